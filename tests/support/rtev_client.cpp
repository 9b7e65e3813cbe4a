#include "tests/support/rtev_client.hpp"

#include <regex>
#include <stdexcept>

#include "tests/support/http_client.hpp"
#include "tests/support/tcp_stream.hpp"

namespace rtev::test {

namespace {

millis left(steady::time_point deadline) {
  const auto d = std::chrono::duration_cast<millis>(deadline - steady::now());
  return d.count() < 0 ? millis(0) : d;
}

}  // namespace

std::string type_of(const json& msg) {
  if (!msg.is_object()) return {};
  const auto it = msg.find("type");
  return it != msg.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_reply_to(const json& msg, const std::string& ref) {
  if (!msg.is_object()) return false;
  const std::string type = msg.value("type", "");
  return (type == "ACK" || type == "ERROR" || type == "PONG") && msg.contains("ref") &&
         msg["ref"] == ref && !msg.contains("history");
}

bool is_event_in(const json& msg, const std::string& room) {
  return msg.is_object() && msg.contains("seq") && msg["seq"].is_number() &&
         msg.value("room", "") == room && !msg.contains("history");
}

rtev_client::rtev_client(std::uint16_t port, ws_options options) : ws_(port, std::move(options)) {
  if (!ws_.open())
    throw std::runtime_error("websocket upgrade refused: HTTP " + std::to_string(ws_.status()) +
                             " " + ws_.body());
}

rtev_client rtev_client::connect_as(std::uint16_t port, const std::string& token,
                                    ws_options options) {
  if (!token.empty())
    options.query += (options.query.empty() ? "" : "&") + std::string("token=") + url_encode(token);
  rtev_client c(port, std::move(options));
  c.authenticated();
  return c;
}

void rtev_client::send(const json& msg) {
  if (!ws_.send_text(msg.dump())) throw std::runtime_error("send failed: the connection is gone");
}

void rtev_client::send_op(const std::string& op, const json& data,
                          const std::optional<std::string>& ref) {
  json msg = {{"type", op}, {"data", data}};
  if (ref) msg["ref"] = *ref;
  send(msg);
}

std::string rtev_client::mailbox_summary() const {
  std::string s = std::to_string(mailbox_.size()) + " queued message(s)";
  std::size_t n = 0;
  for (const auto& m : mailbox_) {
    if (++n > 8) {
      s += "\n  …";
      break;
    }
    s += "\n  " + m.dump().substr(0, 200);
  }
  return s;
}

std::optional<json> rtev_client::read(steady::time_point deadline, const std::string& what) {
  if (close_)
    throw std::runtime_error("waiting for " + what + ": the connection was closed (" +
                             close_->describe() + "); " + mailbox_summary());
  ws_message m = ws_.recv(left(deadline));
  if (m.type == ws_message::kind::timeout) return std::nullopt;
  if (m.type != ws_message::kind::text) {
    if (m.type == ws_message::kind::close) close_ = m;
    throw std::runtime_error("waiting for " + what + ": got " + m.describe() + "; " +
                             mailbox_summary());
  }
  json j = json::parse(m.data, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("the server sent non-JSON text: " + m.data);
  return j;
}

json rtev_client::next(millis timeout) {
  if (!mailbox_.empty()) {
    json j = std::move(mailbox_.front());
    mailbox_.pop_front();
    return j;
  }
  auto j = read(steady::now() + timeout, "any message");
  if (!j) throw std::runtime_error("timed out waiting for any message");
  return *j;
}

std::optional<json> rtev_client::try_next(millis timeout) {
  if (!mailbox_.empty()) return next(timeout);
  return read(steady::now() + timeout, "any message");
}

json rtev_client::next_where(const predicate& pred, millis timeout, const std::string& what) {
  for (auto it = mailbox_.begin(); it != mailbox_.end(); ++it)
    if (pred(*it)) {
      json j = std::move(*it);
      mailbox_.erase(it);
      return j;
    }
  const auto deadline = steady::now() + timeout;
  for (;;) {
    auto j = read(deadline, what);
    if (!j) throw std::runtime_error("timed out waiting for " + what + "; " + mailbox_summary());
    if (pred(*j)) return *j;
    mailbox_.push_back(std::move(*j));
  }
}

json rtev_client::next_of_type(const std::string& type, millis timeout) {
  return next_where([&](const json& m) { return m.is_object() && m.value("type", "") == type; },
                    timeout, "a message of type '" + type + "'");
}

json rtev_client::next_event_in(const std::string& room, millis timeout) {
  return next_where([&](const json& m) { return is_event_in(m, room); }, timeout,
                    "an event in room '" + room + "'");
}

json rtev_client::authenticated(millis timeout) {
  return next_of_type("authenticated", timeout).at("data");
}

json rtev_client::request(const std::string& op, const json& data, millis timeout) {
  const std::string ref = new_ref();
  send_op(op, data, ref);
  return next_where([&](const json& m) { return is_reply_to(m, ref); }, timeout,
                    "the reply to " + op + " (ref " + ref + ")");
}

std::pair<std::vector<json>, json> rtev_client::request_collect(const std::string& op,
                                                                const json& data, millis timeout) {
  const std::string ref = new_ref();
  send_op(op, data, ref);
  const auto deadline = steady::now() + timeout;
  std::vector<json> before;
  for (;;) {
    auto j = read(deadline, "the reply to " + op);
    if (!j)
      throw std::runtime_error("timed out waiting for the reply to " + op + " after " +
                               std::to_string(before.size()) + " message(s)");
    if (is_reply_to(*j, ref)) return {std::move(before), std::move(*j)};
    before.push_back(std::move(*j));
  }
}

json rtev_client::ack(const std::string& op, const json& data, millis timeout) {
  json reply = request(op, data, timeout);
  if (reply.value("type", "") != "ACK")
    throw std::runtime_error(op + " " + data.dump() + " was not acknowledged: " + reply.dump());
  return reply.at("data");
}

json rtev_client::error(const std::string& op, const json& data, millis timeout) {
  json reply = request(op, data, timeout);
  if (reply.value("type", "") != "ERROR")
    throw std::runtime_error(op + " " + data.dump() + " did not fail: " + reply.dump());
  return reply.at("data");
}

json rtev_client::subscribe(const std::string& room, json extra) {
  extra["room"] = room;
  return ack("SUBSCRIBE", extra);
}

json rtev_client::publish(const json& data) {
  return ack("PUBLISH", data);
}

ws_message rtev_client::wait_close(millis timeout) {
  if (close_) return *close_;
  const auto deadline = steady::now() + timeout;
  for (;;) {
    ws_message m = ws_.recv(left(deadline));
    if (m.type == ws_message::kind::text) {
      json j = json::parse(m.data, nullptr, false);
      mailbox_.push_back(j.is_discarded() ? json(m.data) : j);
      continue;
    }
    if (m.type == ws_message::kind::binary) continue;
    if (m.type == ws_message::kind::close) close_ = m;
    return m;
  }
}

ws_message rtev_client::close() {
  if (close_) return *close_;
  ws_.send_close(1000, "bye");
  return wait_close();
}

bool rtev_client::receives(const predicate& pred, millis timeout) {
  try {
    next_where(pred, timeout);
    return true;
  } catch (const std::runtime_error&) {
    if (close_) throw;
    return false;
  }
}

}  // namespace rtev::test

namespace rtev::test {

json publish_http(std::uint16_t port, const json& body, const std::string& api_key) {
  header_list h;
  if (!api_key.empty()) h.emplace_back("Authorization", "Bearer " + api_key);
  const http_response r = http_post_json(port, "/api/events", body.dump(), h);
  if (r.status != 202)
    throw std::runtime_error("POST /api/events " + body.dump().substr(0, 200) + " -> HTTP " +
                             std::to_string(r.status) + " " + r.body);
  return r.json();
}

std::vector<json> fetch_history(std::uint16_t port, const std::string& room,
                                const std::string& api_key) {
  header_list h;
  if (!api_key.empty()) h.emplace_back("Authorization", "Bearer " + api_key);
  std::vector<json> out;
  std::string since;
  for (int page = 0; page < 10000; ++page) {
    const std::string target = "/api/history?limit=1000&room=" + url_encode(room) +
                               (since.empty() ? "" : "&since=" + since);
    const http_response r = http_get(port, target, h);
    if (r.status != 200)
      throw std::runtime_error("GET " + target + " -> HTTP " + std::to_string(r.status) + " " +
                               r.body);
    const json j = r.json();
    for (const auto& e : j.at("events")) out.push_back(e);
    if (j.at("next").is_null()) return out;
    since = j["next"].dump();
  }
  throw std::runtime_error("GET /api/history: `next` never became null");
}

bool is_rfc3339_micros(const std::string& text) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2}))");
  return std::regex_match(text, re);
}

}  // namespace rtev::test
