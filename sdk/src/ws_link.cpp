#include "ws_link.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace rtev::detail {
namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// A close reason from the server for a one-line message: printable and short.
std::string printable_reason(const char* p, std::size_t n) {
  std::string s(p, std::min<std::size_t>(n, 200));
  for (auto& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  return n > 200 ? s + "…" : s;
}

}  // namespace

ws_link::~ws_link() {
  on_open = nullptr;
  on_message = nullptr;
  on_pong = nullptr;
  on_sent = nullptr;
  on_end = nullptr;
  if (active_) kill("destroyed");
}

bool ws_link::owns(lws* w) const {
  return w && lws_get_opaque_user_data(w) == this;
}

void ws_link::start(ws_request req) {
  if (active_) kill("replaced by a new connection");
  ++generation_;
  req_ = std::move(req);
  if (req_.url.scheme == "http" || req_.url.scheme == "https")
    req_.url.scheme = req_.url.tls ? "wss" : "ws";
  host_ = req_.url.authority();
  origin_ = req_.url.origin(true);
  active_ = true;
  open_ = want_close_ = ping_due_ = close_sent_ = discarding_ = false;
  rx_.clear();
  outq_.clear();
  end_ = ws_end{};

  lws_client_connect_info i{};
  i.context = ctx_;
  i.address = req_.url.host.c_str();
  i.port = req_.url.port;
  i.path = req_.url.path.c_str();
  i.host = host_.c_str();
  i.origin = origin_.c_str();
  i.protocol = req_.subprotocol.empty() ? nullptr : req_.subprotocol.c_str();
  i.local_protocol_name = protocol_name_;
  i.retry_and_idle_policy = &no_validity_;  // the transports keep their own heartbeats
  i.opaque_user_data = this;
  if (req_.url.tls) {
    i.ssl_connection = LCCSCF_USE_SSL;
    if (req_.insecure)
      i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                          LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
  }
  i.pwsi = wsi_.slot();
  const std::uint64_t gen = generation_;
  lws* w = lws_client_connect_via_info(&i);
  if (generation_ != gen) return;  // failed inside the call and already reported
  if (!w) {
    wsi_.set(nullptr);
    finish("cannot connect to " + host_);
  } else {
    wsi_.set(w);
  }
}

void ws_link::send(std::string text, std::function<void()> written) {
  if (!active_) return;
  outq_.push_back({std::move(text), std::move(written)});
  if (open_ && wsi_.get()) lws_callback_on_writable(wsi_.get());
}

void ws_link::send_first(std::string text) {
  if (!active_) return;
  outq_.push_front({std::move(text), {}});
  if (open_ && wsi_.get()) lws_callback_on_writable(wsi_.get());
}

void ws_link::ping() {
  if (!active_) return;
  ping_due_ = true;
  if (open_ && wsi_.get()) lws_callback_on_writable(wsi_.get());
}

bool ws_link::close(std::string reason) {
  if (!active_ || !open_ || !wsi_.get()) return false;
  want_close_ = true;
  close_code_ = LWS_CLOSE_STATUS_NORMAL;
  close_reason_ = std::move(reason);
  lws_callback_on_writable(wsi_.get());
  return true;
}

void ws_link::kill(const std::string& reason) {
  if (!active_) return;
  end_.closed_by_us = true;
  end_.reason = reason;
  finish(reason);
}

void ws_link::finish(std::string reason) {
  if (!active_) return;
  active_ = false;
  ++generation_;
  wsi_.release();
  ws_end e = std::move(end_);
  end_ = ws_end{};
  if (e.reason.empty()) e.reason = std::move(reason);
  e.was_open = open_;
  open_ = want_close_ = ping_due_ = false;
  outq_.clear();
  rx_.clear();
  if (on_end) {
    auto done = on_end;  // on_end may start() again, or replace the callbacks it holds
    done(std::move(e));
  }
}

int ws_link::append_headers(lws* w, unsigned char** p, std::size_t len) {
  unsigned char* end = *p + len;
  for (const auto& [name, value] : req_.headers) {
    std::string n = lower(name);
    if (n.empty() || n.back() != ':') n += ':';
    if (lws_add_http_header_by_name(w, reinterpret_cast<const unsigned char*>(n.c_str()),
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), p, end)) {
      end_.closed_by_us = true;
      finish("the upgrade request's headers are too large (at '" + name + "')");
      return -1;
    }
  }
  return 0;
}

int ws_link::on_writeable(lws* w) {
  // lws may call WRITEABLE again after the callback that started the close returned -1;
  // returning -1 a second time would lose the close frame (docs/lws-notes.md).
  if (close_sent_) return 0;
  // What was queued before close() goes out before the close frame.
  if (want_close_ && outq_.empty()) {
    close_sent_ = true;
    end_.closed_by_us = true;
    if (end_.reason.empty()) end_.reason = "closed by the client";
    lws_close_reason(w, close_code_, reinterpret_cast<unsigned char*>(close_reason_.data()),
                     close_reason_.size());
    return -1;
  }
  const std::uint64_t gen = generation_;
  if (ping_due_) {
    ping_due_ = false;
    unsigned char buf[LWS_PRE + 4] = {};
    std::memcpy(&buf[LWS_PRE], "rtev", 4);
    if (lws_write(w, &buf[LWS_PRE], 4, LWS_WRITE_PING) < 0) {
      finish("sending a ping failed");
      return 0;
    }
  } else if (!outq_.empty()) {
    outgoing o = std::move(outq_.front());
    outq_.pop_front();
    std::string frame(LWS_PRE, '\0');
    frame += o.text;
    const std::size_t n = o.text.size();
    if (lws_write(w, reinterpret_cast<unsigned char*>(&frame[LWS_PRE]), n, LWS_WRITE_TEXT) <
        static_cast<int>(n)) {
      finish("sending a message failed");
      return 0;
    }
    if (on_sent) on_sent(n);
    if (generation_ != gen) return 0;
    if (o.written) o.written();
    if (generation_ != gen) return 0;
  }
  if (!outq_.empty() || ping_due_ || want_close_) lws_callback_on_writable(w);
  return 0;
}

int ws_link::on_callback(lws* w, lws_callback_reasons reason, void* in, std::size_t len) {
  if (!owns(w)) return 0;
  wsi_.enter(w);
  int rc = 0;

  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
      wsi_.request_written();
      rc = append_headers(w, static_cast<unsigned char**>(in), len);
      break;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      open_ = true;
      if (!outq_.empty() || ping_due_) lws_callback_on_writable(w);
      if (on_open) {
        auto cb = on_open;
        cb();
      }
      break;

    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (lws_is_first_fragment(w)) {
        rx_.clear();
        rx_binary_ = lws_frame_is_binary(w) != 0;
      }
      if (discarding_) break;
      if (rx_.size() + len > req_.max_message) {
        // Never buffered whole: the rest is dropped and the link closes with 1009 from its
        // next WRITEABLE (returning -1 from RECEIVE part way through a fragmented message
        // wrote past lws 4.1's receive buffer under valgrind).
        discarding_ = true;
        rx_.clear();
        rx_.shrink_to_fit();
        outq_.clear();
        end_.closed_by_us = true;
        if (end_.reason.empty())
          end_.reason = "the server sent a message larger than " +
                        std::to_string(req_.max_message) + " bytes";
        want_close_ = true;
        close_code_ = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
        close_reason_ = "message too large";
        lws_callback_on_writable(w);
        break;
      }
      rx_.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(w) && lws_remaining_packet_payload(w) == 0 && on_message) {
        std::string message;
        message.swap(rx_);
        auto cb = on_message;
        cb(std::move(message), rx_binary_);
      }
      break;
    }

    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
      if (on_pong) {
        auto cb = on_pong;
        cb();
      }
      break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
      rc = on_writeable(w);
      break;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (len >= 2) {
        const auto* b = static_cast<const unsigned char*>(in);
        end_.close_code = (b[0] << 8) | b[1];
        const std::string text = printable_reason(reinterpret_cast<const char*>(b) + 2, len - 2);
        if (end_.reason.empty())
          end_.reason = "closed by the server (" + std::to_string(end_.close_code) +
                        (text.empty() ? "" : " " + text) + ")";
      }
      break;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      const int status = static_cast<int>(lws_http_client_http_response(w));
      if (status > 0 && status != 101) end_.http_status = status;
      std::string why = in ? std::string(static_cast<const char*>(in),
                                         strnlen(static_cast<const char*>(in), len ? len : 256))
                           : std::string();
      if (why.empty()) why = "connection failed";
      if (end_.http_status) why = "the server answered HTTP " + std::to_string(end_.http_status);
      finish(why);
      break;
    }

    case LWS_CALLBACK_CLIENT_CLOSED:
      finish("connection closed");
      break;

    default:
      break;
  }

  return wsi_.leave(w, rc, reason);
}

}  // namespace rtev::detail
