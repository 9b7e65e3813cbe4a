#include "commands/bench_run.hpp"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <optional>
#include <random>
#include <vector>

#include "commands/bench_nats.hpp"
#include "exit_codes.hpp"
#include "http_request.hpp"
#include "interrupts.hpp"
#include "wire/socketio_codec.hpp"
#include "wire/sse_parser.hpp"

namespace rtev::cli {

namespace {

using ns = std::int64_t;

ns now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<ns>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

constexpr std::string_view time_key = "\"bench_t\":";
constexpr std::size_t max_handshakes = 256;  // connections being set up at once
constexpr ns drain_limit = 5'000'000'000;
constexpr ns second = 1'000'000'000;

// The send time in an event: the digits after "bench_t": (a scan, not a JSON parse).
std::optional<ns> find_send_time(std::string_view text) {
  const auto at = text.find(time_key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* p = text.data() + at + time_key.size();
  const char* end = text.data() + text.size();
  while (p < end && *p == ' ') ++p;
  ns t = 0;
  const auto r = std::from_chars(p, end, t);
  if (r.ec != std::errc()) return std::nullopt;
  return t;
}

bool has(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

// The value of "code" (or "message") in a small JSON reply, for error counts.
std::string field(std::string_view text, std::string_view name) {
  const std::string key = "\"" + std::string(name) + "\":\"";
  const auto at = text.find(key);
  if (at == std::string_view::npos) return {};
  const auto from = at + key.size();
  const auto to = text.find('"', from);
  return std::string(text.substr(from, to == std::string_view::npos ? 80 : to - from));
}

enum class role { subscriber, publisher, idle };

struct pending_publish {
  ns sent;
  std::size_t room;
};

struct peer {
  role r = role::idle;
  std::size_t room = 0;
  std::size_t node = 0;  // index into the plan's nodes
  bool ready = false, authed = false;
  std::unique_ptr<bench_conn> conn;
  std::unique_ptr<detail::sse_parser> sse;
  std::unique_ptr<nats_parser> nats;
  // Publishers: what is awaiting its ACK (ACKs come in order), the next event's number.
  std::deque<pending_publish> in_flight;
  std::uint64_t next = 0;
  std::size_t publisher = 0;
};

class bench_runner final : public bench_events {
 public:
  explicit bench_runner(const bench_plan& p) : plan_(p) {
    std::random_device rd;
    char id[16];
    std::snprintf(id, sizeof id, "%08x", rd());
    run_id_ = id;
    const std::string pad(plan_.size > 40 ? plan_.size - 40 : 1, 'x');
    if (plan_.server == bench_server::rtev) {
      suffix_ = ",\"p\":\"" + pad + "\"}}}";
      for (std::size_t r = 0; r < plan_.rooms; ++r)
        prefix_.push_back("{\"type\":\"PUBLISH\",\"data\":{\"type\":\"bench\",\"room\":\"" +
                          room_name(r) + "\",\"data\":{\"bench_t\":");
    } else {
      // The peers carry the payload as it is: the event data alone.
      suffix_ = ",\"p\":\"" + pad + "\"}";
      prefix_.assign(plan_.rooms, "{\"bench_t\":");
    }
    subs_in_room_.assign(plan_.rooms, 0);
    for (std::size_t r = 0; r < plan_.rooms; ++r) subjects_.push_back(subject(r));
  }

  bench_result run();

  void on_open(bench_conn& c) override;
  void on_data(bench_conn& c, std::string_view data) override;
  void on_closed(bench_conn& c) override;

 private:
  std::string room_name(std::size_t r) const {
    return "bench-" + run_id_ + "-" + std::to_string(r);
  }
  std::string subject(std::size_t r) const { return "bench." + run_id_ + "." + std::to_string(r); }
  std::string query_auth() const;
  void open_next();
  void became_ready(peer& p);
  void fail(int code, const std::string& why);
  void count_error(const std::string& kind);
  void on_rtev(peer& p, std::string_view msg);
  void on_socketio(peer& p, std::string_view msg);
  void on_nats_op(peer& p, nats_op op, std::string_view arg);
  void on_broadcast(peer& p, std::string_view msg);
  void acknowledged(peer& p);
  void on_event(std::string_view text);
  void publish(peer& p, ns t);
  void pump(ns now);
  void wait(ns until);
  void progress_line(const char* what, ns now);

  const bench_plan& plan_;
  std::string run_id_, suffix_, scratch_, nats_frame_;
  std::vector<std::string> subjects_;
  std::vector<std::string> prefix_;
  std::vector<std::uint64_t> subs_in_room_;
  std::vector<peer> peers_;
  std::size_t opened_ = 0, ready_ = 0;
  int epoll_ = -1, timer_ = -1;
  std::optional<std::pair<int, std::string>> failure_;
  bool sending_ = false;
  ns start_ = 0, measure_from_ = 0, measure_to_ = 0;
  std::uint64_t total_sent_ = 0, total_delivered_ = 0, shown_sent_ = 0, shown_delivered_ = 0;
  bench_result res_;
};

std::string bench_runner::query_auth() const {
  std::string q = "presence=false";
  if (!plan_.token.empty()) q += "&token=" + url_encode(plan_.token);
  return q;
}

void bench_runner::fail(int code, const std::string& why) {
  if (!failure_) failure_.emplace(code, why);
}

void bench_runner::count_error(const std::string& kind) {
  ++res_.errors;
  ++res_.error_kinds[kind];
}

void bench_runner::open_next() {
  while (opened_ < peers_.size() && opened_ - ready_ < max_handshakes && !failure_) {
    peer& p = peers_[opened_];
    const bool sio = plan_.protocol == wire_protocol::socketio && p.r != role::publisher;
    const bool sse = plan_.protocol == wire_protocol::sse && p.r != role::publisher;
    std::string target;
    if (plan_.server == bench_server::ws_broadcast) {
      target = plan_.ws_path + (plan_.ws_path.find('?') == std::string::npos ? "?" : "&") +
               "role=" +
               (p.r == role::publisher    ? "pub"
                : p.r == role::subscriber ? "sub"
                                          : "idle");
    } else if (plan_.server == bench_server::nats) {
      target = plan_.ws_path;
    } else if (sse) {
      target = plan_.sse_path + (plan_.sse_path.find('?') == std::string::npos ? "?" : "&") +
               query_auth();
      if (p.r == role::subscriber) target += "&rooms=" + room_name(p.room);
    } else if (sio) {
      target = plan_.sio_path + "?EIO=4&transport=websocket&presence=false";
    } else {
      target =
          plan_.ws_path + (plan_.ws_path.find('?') == std::string::npos ? "?" : "&") + query_auth();
    }
    p.conn = std::make_unique<bench_conn>(
        plan_.nodes[p.node], sse ? bench_conn::framing::sse : bench_conn::framing::websocket,
        target, opened_);
    ++opened_;
    if (p.conn->state() == bench_conn::phase::closed) {
      on_closed(*p.conn);
      return;
    }
    if (plan_.server == bench_server::nats) {
      p.nats = std::make_unique<nats_parser>();
      peer* self = &p;
      p.nats->on_msg = [this](std::string_view payload) { on_event(payload); };
      p.nats->on_op = [this, self](nats_op op, std::string_view arg) {
        on_nats_op(*self, op, arg);
      };
    }
    if (sse) {
      p.sse = std::make_unique<detail::sse_parser>();
      peer* self = &p;
      p.sse->on_comment = [this, self](std::string_view) {
        if (!self->ready) became_ready(*self);  // the stream opens with ": ping", once live
      };
      p.sse->on_message = [this](detail::sse_message&& m) { on_event(m.data); };
    }
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.u64 = p.conn->index();
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, p.conn->fd(), &e);
  }
}

void bench_runner::became_ready(peer& p) {
  p.ready = true;
  ++ready_;
  if (p.r == role::subscriber) ++subs_in_room_[p.room];
  open_next();
}

void bench_runner::on_open(bench_conn& c) {
  peer& p = peers_[c.index()];
  if (p.conn->state() != bench_conn::phase::open) return;
  // The broadcast server registers a connection before it answers the upgrade; NATS starts
  // with INFO.
  if (plan_.server == bench_server::ws_broadcast) return became_ready(p);
  if (plan_.server == bench_server::nats) return;
  // rtev: a PING answered before `authenticated` means the server waits for a token
  // (docs/protocol.md §4.1).
  if (plan_.protocol == wire_protocol::rtev || p.r == role::publisher)
    c.send_text(*this, R"({"type":"PING","ref":"rtev-auth-probe"})");
}

void bench_runner::on_data(bench_conn& c, std::string_view data) {
  peer& p = peers_[c.index()];
  if (p.sse) {
    if (!p.sse->feed(data)) c.close(*this, "SSE stream: " + p.sse->error());
    return;
  }
  if (p.nats) {
    if (!p.nats->feed(data)) c.close(*this, "NATS protocol: " + p.nats->error());
    return;
  }
  if (plan_.server == bench_server::ws_broadcast)
    on_broadcast(p, data);
  else if (plan_.protocol == wire_protocol::socketio && p.r != role::publisher)
    on_socketio(p, data);
  else
    on_rtev(p, data);
}

void bench_runner::on_event(std::string_view text) {
  const auto t = find_send_time(text);
  if (!t) return;
  ++total_delivered_;
  if (*t < measure_from_ || *t >= measure_to_) return;
  ++res_.delivered;
  const ns lat = now_ns() - start_ - *t;
  res_.latency->record(static_cast<std::uint64_t>(std::max<ns>(lat, 0)));
}

void bench_runner::on_rtev(peer& p, std::string_view msg) {
  if (p.r == role::subscriber && p.ready && has(msg, time_key)) return on_event(msg);
  if (p.r == role::publisher && p.ready) {
    const bool ack = has(msg, R"("type":"ACK")");
    if (ack || has(msg, R"("type":"ERROR")")) {
      if (p.in_flight.empty()) return;
      if (!ack) {
        p.in_flight.pop_front();
        return count_error("publish refused: " + field(msg, "code"));
      }
      return acknowledged(p);
    }
  }
  if (has(msg, R"("type":"authenticated")")) {
    p.authed = true;
    if (p.r == role::subscriber)
      p.conn->send_text(*this,
                        R"({"type":"SUBSCRIBE","data":{"room":")" + room_name(p.room) + "\"}}");
    else
      became_ready(p);
  } else if (has(msg, R"("type":"auth_error")")) {
    fail(exit_auth, "authentication rejected: " + field(msg, "message"));
  } else if (has(msg, R"("type":"PONG")")) {
    if (!p.authed)
      fail(exit_auth, "the server requires a token (give one with --token or RTEV_TOKEN)");
  } else if (has(msg, R"("type":"ACK")") && p.r == role::subscriber && !p.ready) {
    became_ready(p);
  } else if (has(msg, R"("type":"ERROR")")) {
    const std::string code = field(msg, "code");
    if (!p.ready)
      fail(code == "forbidden" || code == "not_authenticated" ? exit_auth : exit_error,
           "the server refused the setup: " + code + ": " + field(msg, "message"));
    else
      count_error("server error: " + code);
  }
}

// The oldest publish in flight was acknowledged (ACKs come in order).
void bench_runner::acknowledged(peer& p) {
  if (p.in_flight.empty()) return;
  const pending_publish done = p.in_flight.front();
  p.in_flight.pop_front();
  if (done.sent >= measure_from_ && done.sent < measure_to_) {
    ++res_.published;
    res_.expected += subs_in_room_[done.room];
  }
}

void bench_runner::on_broadcast(peer& p, std::string_view msg) {
  if (p.r == role::subscriber) return on_event(msg);
  if (p.r == role::publisher) acknowledged(p);
}

void bench_runner::on_nats_op(peer& p, nats_op op, std::string_view arg) {
  switch (op) {
    case nats_op::info: {
      // No echo (a publisher does not get its own messages), no +OK per operation.
      std::string hello =
          R"(CONNECT {"verbose":false,"pedantic":false,"echo":false,"headers":false,)"
          R"("protocol":1,"name":"rtev-bench","lang":"c++","version":"1")";
      if (!plan_.token.empty()) hello += ",\"auth_token\":" + nlohmann::json(plan_.token).dump();
      hello += "}\r\n";
      if (p.r == role::subscriber) hello += "SUB " + subject(p.room) + " 1\r\n";
      // Its PONG says the server has taken CONNECT (and SUB): the connection is ready.
      p.conn->send_text(*this, hello + "PING\r\n");
      break;
    }
    case nats_op::ping:
      p.conn->send_text(*this, "PONG\r\n");
      break;
    case nats_op::pong:
      if (!p.ready) return became_ready(p);
      if (p.r == role::publisher) acknowledged(p);
      break;
    case nats_op::ok:
      break;
    case nats_op::err: {
      const std::string why(arg);
      if (!p.ready)
        fail(why.find("Authorization") != std::string::npos ? exit_auth : exit_error,
             "nats-server refused the setup: " + why);
      else
        count_error("nats-server: " + why);
      break;
    }
  }
}

void bench_runner::on_socketio(peer& p, std::string_view msg) {
  if (p.ready && msg.size() > 2 && msg[0] == '4' && msg[1] == '2' && has(msg, time_key))
    return on_event(msg);
  wire::eio_packet e;
  try {
    e = wire::eio_decode(msg);
  } catch (const std::exception& ex) {
    return count_error(std::string("socket.io: ") + ex.what());
  }
  if (e.type == wire::eio_type::ping) return p.conn->send_text(*this, "3");
  if (e.type == wire::eio_type::close) return p.conn->close(*this, "engine.io close");
  if (e.type == wire::eio_type::open) {
    nlohmann::json auth = {{"presence", false}};
    if (!plan_.token.empty()) auth["token"] = plan_.token;
    wire::sio_packet c;
    c.type = wire::sio_type::connect;
    c.nsp = plan_.nsp;
    c.data = auth;
    return p.conn->send_text(*this, wire::eio_encode(wire::eio_type::message, wire::sio_encode(c)));
  }
  if (e.type != wire::eio_type::message) return;
  wire::sio_packet s;
  try {
    s = wire::sio_decode(e.data);
  } catch (const std::exception& ex) {
    return count_error(std::string("socket.io: ") + ex.what());
  }
  switch (s.type) {
    case wire::sio_type::connect:
      p.authed = true;
      if (p.r == role::subscriber)
        p.conn->send_text(
            *this, wire::eio_encode(
                       wire::eio_type::message,
                       wire::sio_event(plan_.nsp, "join", {{{"room", room_name(p.room)}}}, 1)));
      else
        became_ready(p);
      break;
    case wire::sio_type::connect_error:
      fail(exit_auth, "Socket.IO CONNECT refused: " + s.data.value("message", s.data.dump()));
      break;
    case wire::sio_type::ack:
      if (!p.ready) {
        if (s.data.is_array() && !s.data.empty() && s.data[0].is_object() &&
            s.data[0].contains("error"))
          fail(s.data[0]["error"].value("code", "") == "not_authenticated" ? exit_auth : exit_error,
               "the server refused the join: " + s.data[0]["error"].dump() +
                   (plan_.token.empty() ? " (give a token with --token or RTEV_TOKEN)" : ""));
        else
          became_ready(p);
      }
      break;
    case wire::sio_type::disconnect:
      p.conn->close(*this, "Socket.IO DISCONNECT from the server");
      break;
    case wire::sio_type::event:
      if (s.data.is_array() && !s.data.empty() && s.data[0] == "error")
        count_error("server error: " + s.data.dump().substr(0, 120));
      break;
    default:
      break;
  }
}

void bench_runner::on_closed(bench_conn& c) {
  peer& p = peers_[c.index()];
  if (sending_ || p.ready) {
    // During the run: a lost connection is an error of the run, not of the setup.
    if (!failure_ && (p.r != role::idle || sending_)) count_error("connection lost: " + c.error());
    p.in_flight.clear();
    return;
  }
  const std::string url = plan_.nodes[p.node].authority;
  if (c.http_status() == 401 || c.http_status() == 403)
    return fail(exit_auth, "authentication rejected by " + url + ": " + c.error() + " " +
                               c.refusal().substr(0, 200));
  if (c.http_status() != 0) {
    std::string why = "could not set up a connection to " + url + ": " + c.error();
    if (!c.refusal().empty()) why += " " + c.refusal().substr(0, 200);
    if (c.http_status() == 404 && p.r == role::publisher)
      why += " (publishers need rtev serve's WebSocket door " + plan_.ws_path + ")";
    return fail(exit_error, why);
  }
  if (c.close_code() == 1008) return fail(exit_auth, "the server closed with 1008: " + c.error());
  fail(exit_connect, "could not connect to " + url + ": " + c.error());
}

void bench_runner::publish(peer& p, ns t) {
  const std::size_t room = (p.publisher + p.next * plan_.publishers) % plan_.rooms;
  ++p.next;
  scratch_.assign(prefix_[room]);
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, t);
  scratch_.append(digits, r.ptr);
  scratch_.append(suffix_);
  p.in_flight.push_back({t, room});
  ++total_sent_;
  if (plan_.server == bench_server::nats) {
    nats_frame_.clear();
    append_nats_publish(nats_frame_, subjects_[room], scratch_);
    return p.conn->send_text(*this, nats_frame_);
  }
  p.conn->send_text(*this, scratch_);
}

// Sends what is due: open loop at --rate (the k-th event of publisher j is due at
// (k·M + j) / R; latency is measured from then, so a sender that falls behind shows), or as
// fast as a window of unACKed publishes per publisher allows.
void bench_runner::pump(ns now) {
  if (!sending_) return;
  const ns rel = now - start_;
  for (peer& p : peers_) {
    if (p.r != role::publisher || p.conn->state() != bench_conn::phase::open) continue;
    if (plan_.rate > 0) {
      for (;;) {
        const double k = static_cast<double>(p.next * plan_.publishers + p.publisher);
        const auto due = static_cast<ns>(k * 1e9 / plan_.rate);
        if (due > rel || due >= measure_to_) break;
        publish(p, due);
      }
    } else {
      while (p.in_flight.size() < plan_.window && rel < measure_to_) publish(p, now_ns() - start_);
    }
  }
}

void bench_runner::progress_line(const char* what, ns now) {
  if (!plan_.progress) return;
  std::cerr << "rtev: bench " << what << " " << (now - start_) / second << "s: sent "
            << total_sent_ - shown_sent_ << "/s, delivered " << total_delivered_ - shown_delivered_
            << "/s, errors " << res_.errors << std::endl;
  shown_sent_ = total_sent_;
  shown_delivered_ = total_delivered_;
}

// One turn of the loop: waits for sockets, the next due publish or `until`, and handles them.
void bench_runner::wait(ns until) {
  ns wake = until;
  if (sending_ && plan_.rate > 0) {
    for (const peer& p : peers_) {
      // A publisher whose connection was lost has nothing due (its schedule is in the past).
      if (p.r != role::publisher || p.conn->state() != bench_conn::phase::open) continue;
      const double k = static_cast<double>(p.next * plan_.publishers + p.publisher);
      wake = std::min(wake, start_ + static_cast<ns>(k * 1e9 / plan_.rate));
    }
  }
  itimerspec ts{};
  wake = std::max(wake, now_ns() + 1000);
  ts.it_value.tv_sec = wake / second;
  ts.it_value.tv_nsec = wake % second;
  ::timerfd_settime(timer_, TFD_TIMER_ABSTIME, &ts, nullptr);
  epoll_event evs[256];
  const int n = ::epoll_wait(epoll_, evs, 256, -1);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t id = evs[i].data.u64;
    if (id == ~0ULL) {
      std::uint64_t ticks = 0;
      (void)!::read(timer_, &ticks, sizeof ticks);
      continue;
    }
    if (id == ~1ULL) throw_if_interrupted(" while benchmarking");
    peer& p = peers_[id];
    if (!p.conn || p.conn->state() == bench_conn::phase::closed) continue;
    const auto ev = evs[i].events;
    p.conn->on_ready(*this, (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0,
                     (ev & EPOLLOUT) != 0);
  }
  pump(now_ns());
}

bench_result bench_runner::run() {
  struct fd_closer {
    int& fd;
    ~fd_closer() {
      if (fd >= 0) ::close(fd);
    }
  };
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  fd_closer close_epoll{epoll_};
  timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  fd_closer close_timer{timer_};
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = ~0ULL;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, timer_, &e);
  if (interrupt_fd() >= 0) {
    e.data.u64 = ~1ULL;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, interrupt_fd(), &e);
  }

  // Subscriber i joins room i % K; publisher j sends to rooms j, j+M, j+2M, … (mod K).
  for (std::uint64_t i = 0; i < plan_.subscribers; ++i) {
    peer p;
    p.r = role::subscriber;
    p.room = i % plan_.rooms;
    p.node = i % plan_.nodes.size();
    peers_.push_back(std::move(p));
  }
  for (std::uint64_t i = 0; i < plan_.idle; ++i) {
    peer p;
    p.node = i % plan_.nodes.size();
    peers_.push_back(std::move(p));
  }
  for (std::uint64_t j = 0; j < plan_.publishers; ++j) {
    peer p;
    p.r = role::publisher;
    p.publisher = j;
    p.node = j % plan_.nodes.size();
    peers_.push_back(std::move(p));
  }

  start_ = now_ns();
  const ns setup_deadline = start_ + plan_.connect_timeout.count() * 1'000'000;
  ns next_progress = start_ + second;
  open_next();
  while (ready_ < peers_.size() && !failure_) {
    const ns now = now_ns();
    if (now >= setup_deadline) {
      fail(exit_connect, "could not set up " + std::to_string(peers_.size() - ready_) + " of " +
                             std::to_string(peers_.size()) + " connections to " +
                             plan_.nodes.front().authority +
                             (plan_.nodes.size() > 1 ? " and the other nodes" : "") +
                             " within the --connect-timeout");
      break;
    }
    if (now >= next_progress) {
      if (plan_.progress)
        std::cerr << "rtev: bench setting up: " << ready_ << " of " << peers_.size()
                  << " connections ready" << std::endl;
      next_progress += second;
    }
    wait(std::min(setup_deadline, next_progress));
  }
  if (failure_) throw command_failure(failure_->first, failure_->second);
  res_.connections = ready_;
  res_.setup_seconds = static_cast<double>(now_ns() - start_) / 1e9;

  // The clock of the run: send times are nanoseconds from here.
  start_ = now_ns();
  measure_from_ = plan_.warmup.count();
  measure_to_ = measure_from_ + plan_.duration.count();
  next_progress = start_ + second;
  sending_ = true;
  pump(start_);
  double cpu_from = cpu_seconds();
  bool measuring = plan_.warmup.count() == 0;
  while (!failure_) {
    const ns now = now_ns();
    if (!measuring && now - start_ >= measure_from_) {
      measuring = true;
      cpu_from = cpu_seconds();
    }
    if (now - start_ >= measure_to_) break;
    if (now >= next_progress) {
      progress_line(now - start_ < measure_from_ ? "warm-up" : "running", now);
      next_progress += second;
    }
    wait(std::min({start_ + measure_to_, next_progress,
                   measuring ? start_ + measure_to_ : start_ + measure_from_}));
  }
  res_.cpu_seconds = cpu_seconds() - cpu_from;
  res_.measured_seconds = static_cast<double>(plan_.duration.count()) / 1e9;

  // Drain: the ACKs and deliveries of what was sent in the window.
  const ns drain_to = now_ns() + drain_limit;
  auto drained = [&] {
    for (const peer& p : peers_)
      if (p.r == role::publisher && p.conn->state() == bench_conn::phase::open &&
          !p.in_flight.empty())
        return false;
    return res_.delivered >= res_.expected;
  };
  while (!failure_ && !drained() && now_ns() < drain_to) {
    const ns now = now_ns();
    if (now >= next_progress) {
      progress_line("draining", now);
      next_progress += second;
    }
    wait(std::min(drain_to, next_progress));
  }
  res_.drained = drained();
  if (!res_.drained) count_error("not drained within 5 s after the run");
  sending_ = false;
  if (failure_) throw command_failure(failure_->first, failure_->second);
  if (plan_.before_closing) plan_.before_closing();
  return std::move(res_);
}

}  // namespace

bench_result run_bench_plan(const bench_plan& plan) {
  // Every connection is a descriptor: ask for as many as the hard limit allows.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  bench_runner r(plan);
  return r.run();
}

}  // namespace rtev::cli
