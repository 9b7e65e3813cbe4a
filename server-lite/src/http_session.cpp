// Plain HTTP transactions: a request's head and body, routing (to SSE, /socket.io/ polls or the
// HTTP API), replies that come later (a publish once stored), writing an answer with its CORS
// and own headers, and the per-address rate buckets of POST /api/events.
//
// Threads: service thread only (lws callbacks, and the API's replies posted back to it).

#include <libwebsockets.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "console_files.hpp"
#include "frame.hpp"
#include "http_request_head.hpp"
#include "publish_frame.hpp"
#include "rtev/error.hpp"
#include "server_impl.hpp"

namespace rtev {

using namespace server_lite;

int server::impl::http_start(lws* wsi, session& s, const char* path) {
  s.req = http_request{};
  s.body_too_large = false;
  s.response.reset();
  s.req.path = path;
  sio_untrack(s);
  s.sio_sid.clear();
  s.sio_poll = 0;
  s.close_after = false;
  s.req.method = request_method(wsi);
  s.req.query = query_args(wsi);
  s.req.authorization = request_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  s.req.remote = peer(wsi);
  // Sizes, UTF-8 and the body's length, before anything reads them (414/431/400/411/413).
  if (auto refused = head_refusal(wsi, s.req, cfg.max_message_bytes * 16)) {
    s.close_after = true;
    respond(wsi, s, std::move(*refused));
    return 0;
  }
  if (s.req.method == "OPTIONS") {
    respond(wsi, s, {204, "", "text/plain"});
    return 0;
  }
  if (s.req.method == "POST" || s.req.method == "PUT" || s.req.method == "PATCH") {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
      return 0;  // wait for the body
    // No body (RFC 9112 6.3: no Content-Length, no Transfer-Encoding). lws would wait for
    // one anyway, so the request is handled now and the connection closed after it.
    s.close_after = true;
    return body_complete(wsi, s);
  }
  if (s.req.path == "/api/events" && s.req.method == "GET") return sse_start(wsi, s);
  if (is_socketio_path(s.req.path) && s.req.method == "GET") {
    sio_get(wsi, s);
    return 0;
  }
  if (cfg.console && (s.req.method == "GET" || s.req.method == "HEAD"))
    if (const console_file* f = find_console_file(s.req.path)) {
      respond(wsi, s, console_response(*f));
      return 0;
    }
  handle_api(wsi, s);
  return 0;
}

// The console's files. They are public (the page holds no secret: it asks for the API key
// and keeps it in the tab), never cached stale across an upgrade of the binary, and kept to
// this origin: the page talks only to the server that served it.
http_response server::impl::console_response(const console_file& f) {
  http_response r{200, std::string(reinterpret_cast<const char*>(f.data), f.size), f.content_type};
  r.headers = {{"Cache-Control", "no-cache"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Content-Security-Policy",
                "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"}};
  return r;
}

void server::impl::http_body(session& s, const void* in, size_t len) {
  if (s.req.body.size() + len > cfg.max_message_bytes * 16)
    s.body_too_large = true;
  else {
    // Spare capacity for simdjson to read a publish body in place (publish_frame.hpp).
    s.req.body.reserve(s.req.body.size() + len + json_read_padding);
    s.req.body.append(static_cast<const char*>(in), len);
  }
}

// The whole request is in (or there is none): route it. Publishing answers later.
int server::impl::body_complete(lws* wsi, session& s) {
  if (s.response) return 0;  // already refused (413 from Content-Length)
  if (s.body_too_large) {
    respond(wsi, s,
            json_error(413, "too_large",
                       "the request body is over " + std::to_string(cfg.max_message_bytes * 16) +
                           " bytes"));
    return 0;
  }
  double retry_after = 0;
  if (s.req.path == "/api/events" && !http_rate_ok(s.req.remote, retry_after)) {
    http_response r = json_error(429, "rate_limited",
                                 "too many requests: the limit is " +
                                     std::to_string(static_cast<long>(cfg.rate_limit)) + "/s");
    add_rate_limit_headers(r);
    // Whole seconds (RFC 9110), rounded up: a client that honours only this still gets in.
    r.headers.emplace_back("Retry-After",
                           std::to_string(std::max(1L, static_cast<long>(std::ceil(retry_after)))));
    respond(wsi, s, std::move(r));
    return 0;
  }
  if (is_socketio_path(s.req.path)) {
    respond(wsi, s, sio->poll_post(s.req));
    return 0;
  }
  handle_api(wsi, s);
  return 0;
}

// The HTTP API answers some requests later (a publish once stored, history once read): the
// reply finds its connection by number, and is dropped when the client has gone.
void server::impl::handle_api(lws* wsi, session& s) {
  // A publish's answer announces the rate limit (X-RateLimit-*), so clients can pace.
  const bool publishing = s.req.path == "/api/events" && s.req.method == "POST";
  const std::uint64_t id = next_pending_id++;
  s.pending_id = id;
  pending_http[id] = wsi;
  api->handle(s.req, [this, id, publishing](http_response r) {
    auto it = pending_http.find(id);
    if (it == pending_http.end()) return;  // the client went away
    if (publishing) add_rate_limit_headers(r);
    lws* w = it->second;
    pending_http.erase(it);
    auto** p = static_cast<session**>(lws_wsi_user(w));
    if (!p || !*p) return;
    (*p)->pending_id = 0;
    respond(w, **p, std::move(r));
  });
}

// A bad ?presence= is refused before the connection opens (400), so a client that asked not
// to be announced never is.
std::optional<http_response> server::impl::presence_refusal(const http_request& req) {
  auto p = req.param("presence");
  if (!p) return std::nullopt;
  try {
    presence_option("query parameter 'presence'", json(*p));
    return std::nullopt;
  } catch (const parse_error& e) {
    return json_error(400, "bad_request", e.what());
  }
}

void server::impl::respond(lws* wsi, session& s, http_response r) {
  s.response = std::move(r);
  s.headers_sent = false;
  lws_callback_on_writable(wsi);
}

int server::impl::http_writeable(lws* wsi, session& s) {
  if (!s.response) return 0;
  if (!s.headers_sent) {
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];
    if (lws_add_http_common_headers(wsi, static_cast<unsigned>(s.response->status),
                                    s.response->content_type.c_str(), s.response->body.size(), &p,
                                    end) ||
        add_cors(wsi, &p, end) || add_headers(wsi, *s.response, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
      return -1;
    s.headers_sent = true;
    // HEAD: the GET response's headers (Content-Length included), never its body.
    if (s.response->body.empty() || s.req.method == "HEAD") {
      s.response.reset();
      return end_transaction(wsi, s);
    }
    lws_callback_on_writable(wsi);
    return 0;
  }
  frame body(s.response->body);
  s.response.reset();
  if (lws_write(wsi, body.data(), body.size(), LWS_WRITE_HTTP_FINAL) < 0) return -1;
  return end_transaction(wsi, s);
}

// A request refused before its body was read leaves that body (or chunk framing) unread on
// the connection: close rather than parse it as the next request.
int server::impl::end_transaction(lws* wsi, session& s) {
  if (s.close_after) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

// Writes headers and body in one go. Only for small bodies (rejections in CONFIRM_UPGRADE).
int server::impl::write_whole_response(lws* wsi, const http_response& r) {
  std::string buf(LWS_PRE + 2048 + r.body.size(), '\0');
  auto* start = reinterpret_cast<unsigned char*>(&buf[LWS_PRE]);
  unsigned char* p = start;
  unsigned char* end = reinterpret_cast<unsigned char*>(&buf[0]) + buf.size() - r.body.size() - 1;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned>(r.status), r.content_type.c_str(),
                                  r.body.size(), &p, end) ||
      add_cors(wsi, &p, end) || add_headers(wsi, r, &p, end) ||
      lws_finalize_http_header(wsi, &p, end))
    return -1;
  std::memcpy(p, r.body.data(), r.body.size());
  p += r.body.size();
  return lws_write(wsi, start, static_cast<size_t>(p - start), LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 1;
}

int server::impl::add_header_list(lws* wsi, const header_list& list, unsigned char** p,
                                  unsigned char* end) {
  for (const auto& [name, value] : list) {
    const std::string n = name + ":";
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(n.c_str()),
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), p, end))
      return 1;
  }
  return 0;
}

int server::impl::add_headers(lws* wsi, const http_response& r, unsigned char** p,
                              unsigned char* end) {
  return add_header_list(wsi, r.headers, p, end);
}

int server::impl::add_cors(lws* wsi, unsigned char** p, unsigned char* end) {
  return add_header_list(wsi, cors, p, end);
}

std::string server::impl::custom_header(lws* wsi, const char* name) {
  const int nlen = static_cast<int>(std::strlen(name));
  const int n = lws_hdr_custom_length(wsi, name, nlen);
  if (n <= 0) return {};
  std::string v(static_cast<std::size_t>(n) + 1, '\0');
  if (lws_hdr_custom_copy(wsi, &v[0], n + 1, name, nlen) < 0) return {};
  v.resize(static_cast<std::size_t>(n));
  return v;
}

// Takes one request from the address's bucket; false (and in `retry_after` the seconds until
// one is there again) when it is empty.
bool server::impl::http_rate_ok(const std::string& ip_addr, double& retry_after) {
  auto now = steady::now();
  auto& [tokens, at] = http_buckets.try_emplace(ip_addr, cfg.rate_burst, now).first->second;
  tokens = std::min(cfg.rate_burst,
                    tokens + std::chrono::duration<double>(now - at).count() * cfg.rate_limit);
  at = now;
  if (tokens < 1) {
    retry_after = (1 - tokens) / cfg.rate_limit;
    if (http_buckets.size() > 10000) http_buckets.clear();  // bounded; a reset only forgives
    return false;
  }
  tokens -= 1;
  if (http_buckets.size() > 10000) http_buckets.clear();
  return true;
}

// POST /api/events answers say the limit they are held to, as `authenticated` does for a
// WebSocket (docs/protocol.md §6): a publisher paces itself under it instead of hitting 429.
void server::impl::add_rate_limit_headers(http_response& r) const {
  r.headers.emplace_back("X-RateLimit-Limit", number_text(cfg.rate_limit));
  r.headers.emplace_back("X-RateLimit-Burst", number_text(cfg.rate_burst));
}

std::string server::impl::number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}
}  // namespace rtev
