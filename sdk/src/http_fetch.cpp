#include "http_fetch.hpp"

#include <libwebsockets.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <memory>
#include <optional>
#include <system_error>

#include "client_context.hpp"
#include "rtev/error.hpp"
#include "transport.hpp"

namespace rtev::detail {
namespace {

constexpr auto poll_every = std::chrono::milliseconds(20);

bool contains(const std::string& text, const char* needle) {
  return text.find(needle) != std::string::npos;
}

std::string system_message(int err) {
  std::string m = std::generic_category().message(err);
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}

struct diagnosis {
  fetch_result::outcome what;
  std::string error;
};

// Why nothing could be reached at `u`, when lws gives no reason worth showing: it says "Unable
// to connect" for every failed connect (it reads and clears the socket's error itself,
// client-handshake.c) and reports a failed name lookup as "ipv6 lws_getaddrinfo46 failed", or
// not at all. The same lookup and one connect attempt of our own give the system's reason
// ("connection refused", "no route to host", an unknown name). Only on this failure path.
diagnosis diagnose_connect(const parsed_url& u, std::chrono::steady_clock::time_point deadline,
                           const std::function<bool()>& cancelled) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res);
  if (gai != 0 || !res) {
    if (gai == EAI_AGAIN)
      return {fetch_result::outcome::unknown_host,
              "the name lookup failed (temporary failure in name resolution)"};
    return {fetch_result::outcome::unknown_host, "unknown host"};
  }
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(res, freeaddrinfo);
  int last = ECONNREFUSED;
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = errno;
      continue;
    }
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    // Waited for in short slices, so `cancelled` is heard.
    while (err == EINPROGRESS) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || (cancelled && cancelled())) break;
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 20))) > 0) {
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    ::close(fd);
    if (err == EINPROGRESS) return {fetch_result::outcome::timed_out, "connecting timed out"};
    if (err == 0)  // reachable now: lws failed for a reason of its own
      return {fetch_result::outcome::failed, "the connection failed"};
    last = err;
  }
  return {last == ECONNREFUSED ? fetch_result::outcome::refused : fetch_result::outcome::failed,
          system_message(last)};
}

}  // namespace

// Everything one request needs while fetch() runs.
struct http_fetcher::run {
  const fetch_request* req = nullptr;
  parsed_url url;
  http_exchange* exchange = nullptr;
  std::optional<http_result> done;
  std::optional<certificate_refusal> refusal;  // the first certificate OpenSSL refused
  bool connected = false;     // the TCP connection was made (lws's WSI_CREATE, client-handshake.c)
  bool request_sent = false;  // the request head is going out: TLS, if any, is up
  // The poll timer (lws_container_of needs a standard-layout member and a way back).
  struct timer {
    lws_sorted_usec_list_t sul{};
    run* owner = nullptr;
  } tick{{}, this};
  lws_context* ctx = nullptr;
};

http_fetcher::http_fetcher() {
  protocols_[0].name = "rtev-fetch";
  protocols_[0].callback = &http_fetcher::on_lws;
}

http_fetcher::~http_fetcher() {
  drop_context();
}

void http_fetcher::drop_context() {
  if (ctx_) lws_context_destroy(ctx_);
  ctx_ = nullptr;
}

int http_fetcher::on_lws(lws* w, lws_callback_reasons reason, void* user, void* in,
                         std::size_t len) {
  lws_context* c = lws_get_context(w);
  auto* self = c ? static_cast<http_fetcher*>(lws_context_user(c)) : nullptr;
  run* r = self ? self->current_ : nullptr;
  if (!r) return lws_callback_http_dummy(w, reason, user, in, len);
  if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
    if (!r->refusal) r->refusal = certificate_refused(user, len, r->url.host);
    return 0;  // OpenSSL's verdict stands
  }
  if (r->exchange && r->exchange->owns(w)) {
    if (reason == LWS_CALLBACK_WSI_CREATE) r->connected = true;
    if (reason == LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER) r->request_sent = true;
    return r->exchange->on_callback(w, reason, in, len);
  }
  return lws_callback_http_dummy(w, reason, user, in, len);
}

void http_fetcher::on_tick(lws_sorted_usec_list_t* sul) {
  run* r = lws_container_of(sul, run::timer, sul)->owner;
  if (r->done) return;
  if (r->req->cancelled && r->req->cancelled())
    r->exchange->cancel("cancelled");
  else
    r->exchange->tick(std::chrono::steady_clock::now());
  if (!r->done)
    lws_sul_schedule(r->ctx, 0, &r->tick.sul, on_tick,
                     std::chrono::duration_cast<std::chrono::microseconds>(poll_every).count());
}

fetch_result http_fetch(const fetch_request& req) {
  return http_fetcher().fetch(req);
}

fetch_result http_fetcher::fetch(const fetch_request& req) {
  run state;
  state.req = &req;
  state.url = parse_url(req.url);
  if (state.url.scheme != "http" && state.url.scheme != "https")
    throw config_error("invalid url '" + req.url + "': expected http:// or https://");

  fetch_result out;
  if (req.cancelled && req.cancelled()) {
    out.what = fetch_result::outcome::cancelled;
    out.error = "cancelled";
    return out;
  }
  const auto timeout = std::max(req.timeout, std::chrono::milliseconds(1));
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  // lws's own per-phase limit past ours, so the time-out that ends a request is ours.
  const auto secs =
      static_cast<unsigned>(std::chrono::ceil<std::chrono::seconds>(timeout).count() + 1);
  if (ctx_ &&
      ((state.url.tls && !ctx_tls_) || req.ca_file != ctx_ca_file_ || secs != ctx_timeout_secs_))
    drop_context();
  if (!ctx_) {
    ctx_ = create_client_context(protocols_, this, state.url.tls, req.ca_file, secs);
    ctx_tls_ = state.url.tls;
    ctx_ca_file_ = req.ca_file;
    ctx_timeout_secs_ = secs;
  }
  if (!ctx_) {
    out.error = req.ca_file.empty() ? "cannot create the network context"
                                    : "cannot read the CA bundle '" + req.ca_file +
                                          "' (expected a readable PEM file)";
    return out;
  }
  state.ctx = ctx_;
  current_ = &state;
  {
    http_exchange exchange(ctx_, protocols_[0].name);
    state.exchange = &exchange;
    exchange.on_done = [&state](http_result&& r) {
      state.done = std::move(r);
      // Ended inside lws_service() (a timer, a callback), which would otherwise go on to
      // poll until the next lws event: wake it so the loop below sees `done` now.
      lws_cancel_service(state.ctx);
    };

    http_request hr;
    hr.method = req.method;
    hr.url = state.url;
    hr.headers = req.headers;
    hr.body = req.body;
    hr.max_body = req.max_body;
    hr.capture = req.capture;
    hr.timeout = timeout;
    hr.insecure = req.insecure;
    lws_sul_schedule(ctx_, 0, &state.tick.sul, on_tick,
                     std::chrono::duration_cast<std::chrono::microseconds>(poll_every).count());
    exchange.start(std::move(hr));
    while (!state.done)
      if (lws_service(ctx_, 0) < 0) break;
    if (!state.done) exchange.cancel("the network loop failed");
    lws_sul_cancel(&state.tick.sul);
    exchange.on_done = nullptr;
    state.exchange = nullptr;
  }
  current_ = nullptr;

  http_result& r = *state.done;
  out.response = std::move(r.response);
  switch (r.what) {
    case http_result::kind::complete:
      out.what = fetch_result::outcome::complete;
      return out;
    case http_result::kind::cancelled:
      out.what = fetch_result::outcome::cancelled;
      out.error = r.error;
      return out;
    case http_result::kind::failed:
      break;
  }
  if (state.refusal) {
    out.what = fetch_result::outcome::certificate;
    out.error = state.refusal->sentence;
    out.certificate_problem = state.refusal->problem;
    return out;
  }
  out.error = r.error;
  if (contains(r.error, "no response within")) {
    out.what = fetch_result::outcome::timed_out;
    return out;
  }
  if (!state.connected && out.response.status == 0) {
    diagnosis d = diagnose_connect(state.url, deadline, req.cancelled);
    if (req.cancelled && req.cancelled()) {
      out.what = fetch_result::outcome::cancelled;
      out.error = "cancelled";
      return out;
    }
    out.what = d.what;
    out.error = std::move(d.error);
    return out;
  }
  out.what = fetch_result::outcome::failed;
  // lws's own words ("connect SSL err 1: error:00000001:lib(0)::reason(1)", "read failed")
  // say little: what failed, and the likely cause, first.
  if (state.url.tls && !state.request_sent)
    out.error = "the TLS handshake failed (is that port serving https://?): " + r.error;
  else if (out.response.status == 0 && !contains(r.error, "the server") &&
           !contains(r.error, "the connection") && !contains(r.error, "request"))
    out.error = "no HTTP response (is that port serving " +
                std::string(state.url.tls ? "https" : "http") + "://?): " + r.error;
  return out;
}

}  // namespace rtev::detail
