#include "http_exchange.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace rtev::detail {
namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Bodies go out in pieces of this size, one lws_write per WRITEABLE callback.
constexpr std::size_t write_piece = 4096;

}  // namespace

const std::string* http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

http_exchange::~http_exchange() {
  on_done = nullptr;
  on_head = nullptr;
  on_body = nullptr;
  if (active_) cancel("destroyed");
}

bool http_exchange::owns(lws* w) const {
  return w && lws_get_opaque_user_data(w) == this;
}

void http_exchange::start(http_request req) {
  if (active_) cancel("replaced by a new request");
  ++generation_;
  req_ = std::move(req);
  resp_ = http_response{};
  active_ = true;
  head_seen_ = false;
  sent_ = 0;
  started_ = std::chrono::steady_clock::now();
  // lws may read these strings after connect_via_info returns: they live in members.
  host_ = req_.url.authority();  // lws writes Host itself: the port when not the default

  lws_client_connect_info i{};
  i.context = ctx_;
  i.address = req_.url.host.c_str();
  i.port = req_.url.port;
  i.path = req_.url.path.c_str();
  i.host = host_.c_str();
  i.method = req_.method.c_str();
  i.protocol = protocol_name_;
  i.alpn = "http/1.1";
  i.opaque_user_data = this;
  if (req_.url.tls) {
    i.ssl_connection = LCCSCF_USE_SSL;
    if (req_.insecure)
      i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                          LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
  }
  if (!req_.follow_redirects) i.ssl_connection |= LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
  i.pwsi = wsi_.slot();
  const std::uint64_t gen = generation_;
  lws* w = lws_client_connect_via_info(&i);
  if (generation_ != gen) return;  // failed inside the call and already reported
  if (!w) {
    wsi_.set(nullptr);
    finish(http_result::kind::failed, "cannot connect to " + host_);
  } else {
    wsi_.set(w);
  }
}

void http_exchange::cancel(const std::string& reason) {
  if (!active_) return;
  finish(http_result::kind::cancelled, reason);
}

void http_exchange::tick(std::chrono::steady_clock::time_point now) {
  if (!active_ || req_.timeout.count() <= 0) return;
  if (req_.stream && head_seen_) return;
  if (now - started_ >= req_.timeout) {
    finish(http_result::kind::failed,
           "no response within " + std::to_string(req_.timeout.count()) + " ms");
    return;
  }
  // lws cuts a request waiting for its response at the context's timeout_secs (15 s for the
  // client's): one allowed longer — a long-poll the server holds for pingInterval — has lws's
  // own time-out pushed past ours, so ours is the one that ends it.
  if (wsi_.get() && req_.timeout > std::chrono::seconds(5) &&
      now - pushed_at_ >= std::chrono::seconds(1)) {
    pushed_at_ = now;
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(req_.timeout - (now - started_));
    lws_set_timeout(wsi_.get(), PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE,
                    static_cast<int>(left.count()) + 2);
  }
}

void http_exchange::finish(http_result::kind k, std::string error) {
  if (!active_) return;
  active_ = false;
  ++generation_;
  wsi_.release();
  http_result r;
  r.what = k;
  r.response = std::move(resp_);
  resp_ = http_response{};
  r.error = std::move(error);
  if (on_done) {
    auto done = on_done;  // on_done may start() again, or destroy the callbacks it holds
    done(std::move(r));
  }
}

void http_exchange::capture_head(lws* w) {
  resp_.status = static_cast<int>(lws_http_client_http_response(w));
  for (const std::string& name : req_.capture) {
    const std::string want = lower(name) + ":";
    int token = -1;
    for (int t = 0; t < WSI_TOKEN_COUNT; ++t) {
      const auto* s = lws_token_to_string(static_cast<lws_token_indexes>(t));
      if (s && want == reinterpret_cast<const char*>(s)) {
        token = t;
        break;
      }
    }
    int n = token >= 0 ? lws_hdr_total_length(w, static_cast<lws_token_indexes>(token))
                       : lws_hdr_custom_length(w, want.c_str(), static_cast<int>(want.size()));
    if (n <= 0) continue;
    std::string value(static_cast<std::size_t>(n) + 1, '\0');
    n = token >= 0 ? lws_hdr_copy(w, value.data(), n + 1, static_cast<lws_token_indexes>(token))
                   : lws_hdr_custom_copy(w, value.data(), n + 1, want.c_str(),
                                         static_cast<int>(want.size()));
    if (n < 0) continue;
    value.resize(static_cast<std::size_t>(n));
    resp_.headers.emplace_back(lower(name), std::move(value));
  }
}

int http_exchange::on_callback(lws* w, lws_callback_reasons reason, void* in, std::size_t len) {
  if (!owns(w)) return 0;
  wsi_.enter(w);
  const std::uint64_t gen = generation_;
  int rc = 0;

  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      wsi_.request_written();
      auto** p = static_cast<unsigned char**>(in);
      unsigned char* end = *p + len;
      auto add = [&](const std::string& name, const std::string& value) {
        std::string n = lower(name);
        if (n.empty() || n.back() != ':') n += ':';
        return lws_add_http_header_by_name(w, reinterpret_cast<const unsigned char*>(n.c_str()),
                                           reinterpret_cast<const unsigned char*>(value.data()),
                                           static_cast<int>(value.size()), p, end);
      };
      for (const auto& [k, v] : req_.headers)
        if (add(k, v)) {
          finish(http_result::kind::failed, "request headers too large (at '" + k + "')");
          break;
        }
      if (active_ && generation_ == gen && !lws_http_is_redirected_to_get(w) &&
          (!req_.body.empty() || req_.method != "GET")) {
        if (add("content-length", std::to_string(req_.body.size()))) {
          finish(http_result::kind::failed, "request headers too large");
        } else if (!req_.body.empty()) {
          lws_client_http_body_pending(w, 1);
          lws_callback_on_writable(w);
        }
      }
      break;
    }

    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
      if (lws_http_is_redirected_to_get(w) || sent_ >= req_.body.size()) break;
      const std::size_t n = std::min(write_piece, req_.body.size() - sent_);
      const bool last = sent_ + n == req_.body.size();
      std::string buf(LWS_PRE + n, '\0');
      std::memcpy(&buf[LWS_PRE], req_.body.data() + sent_, n);
      if (lws_write(w, reinterpret_cast<unsigned char*>(&buf[LWS_PRE]), n,
                    last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < static_cast<int>(n)) {
        finish(http_result::kind::failed, "sending the request body failed");
        break;
      }
      sent_ += n;
      if (last)
        lws_client_http_body_pending(w, 0);
      else
        lws_callback_on_writable(w);
      break;
    }

    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
      capture_head(w);
      head_seen_ = true;
      if (req_.stream && on_head) {
        auto cb = on_head;
        if (!cb(resp_) && active_ && generation_ == gen)
          finish(http_result::kind::cancelled, "refused by the response handler");
      }
      break;

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
      char buf[LWS_PRE + 4096];
      char* px = buf + LWS_PRE;
      int lenx = static_cast<int>(sizeof buf - LWS_PRE);
      // Strips chunked framing and calls back RECEIVE_CLIENT_HTTP_READ with the payload.
      if (lws_http_client_read(w, &px, &lenx) < 0) {
        if (active_ && generation_ == gen)
          finish(http_result::kind::failed, "the connection was lost while reading the response");
        rc = -1;
      }
      break;
    }

    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ: {
      if (len == 0) break;
      std::string_view chunk(static_cast<const char*>(in), len);
      if (req_.stream) {
        if (on_body) {
          auto cb = on_body;
          if (!cb(chunk) && active_ && generation_ == gen)
            finish(http_result::kind::cancelled, "refused by the body handler");
        }
      } else if (resp_.body.size() + len > req_.max_body) {
        finish(http_result::kind::failed,
               "the response body is larger than " + std::to_string(req_.max_body) + " bytes");
      } else {
        resp_.body.append(chunk);
      }
      break;
    }

    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
      finish(http_result::kind::complete, {});
      break;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      const int status = static_cast<int>(lws_http_client_http_response(w));
      if (status > 0 && !resp_.status) resp_.status = status;
      std::string why = in ? std::string(static_cast<const char*>(in),
                                         strnlen(static_cast<const char*>(in), len ? len : 256))
                           : std::string();
      if (why.empty()) why = "connection failed";
      finish(http_result::kind::failed,
             why + " (" + req_.method + " " + host_ + req_.url.path + ")");
      break;
    }

    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
      finish(http_result::kind::failed,
             head_seen_ ? "the server closed the connection before the response was complete"
                        : "the server closed the connection without answering");
      break;

    default:
      break;
  }

  return wsi_.leave(w, rc, reason);
}

}  // namespace rtev::detail
