// redis_engine: sequencing, history and the shared event stream in Redis (redis_engine.hpp).

#include "redis_engine_parts.hpp"

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
// hiredis's libev adapter: static functions in a header, written in C.
#include <hiredis/adapters/libev.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unordered_map>

#include "rtev/backoff.hpp"
#include "rtev/server/server.hpp"
#include "rtev/time.hpp"
#include "url.hpp"

namespace rtev::server_lite {

namespace {

// One batch: KEYS seq, events, epoch; ARGV epoch, idempotency window (s), max events (0: no
// limit), id key prefix, then 8 values per event: id, own id (1) or the server's (0), type,
// room, data, time_us, stamp, zone. Answers one integer per event: its seq, or minus the
// first seq of an own id already stored. EPOCH when the history is not the one the node
// serves (flushed, replaced).
const char* const publish_script = R"lua(
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return redis.error_reply('EPOCH') end
local out = {}
local i = 5
while i <= #ARGV do
  local id, own = ARGV[i], ARGV[i + 1]
  local dup = false
  if own == '1' then dup = redis.call('GET', ARGV[4] .. id) end
  if dup then
    out[#out + 1] = -tonumber(dup)
  else
    local seq = redis.call('INCR', KEYS[1])
    local fields = {'i', id, 't', ARGV[i + 2], 'r', ARGV[i + 3], 'd', ARGV[i + 4],
                    'u', ARGV[i + 5], 's', ARGV[i + 6], 'z', ARGV[i + 7]}
    if ARGV[3] ~= '0' then
      redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', unpack(fields))
    else
      redis.call('XADD', KEYS[2], seq .. '-0', unpack(fields))
    end
    if own == '1' then redis.call('SET', ARGV[4] .. id, seq, 'EX', ARGV[2]) end
    out[#out + 1] = seq
  end
  i = i + 8
end
return out
)lua";

std::string random_epoch() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw config_error("no random bytes for the epoch");
  char out[17];
  for (int i = 0; i < 8; ++i) std::snprintf(out + 2 * i, 3, "%02x", bytes[i]);
  return out;
}

}  // namespace

redisReply* sync_command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
}

redis_engine::redis_engine(redis_settings settings) : settings_(std::move(settings)) {
  const detail::redis_url u = detail::parse_redis_url(settings_.url);
  host_ = u.where.host;
  port_ = u.where.port;
  db_ = u.db;
  user_ = u.user;
  password_ = u.password;
  shown_ = u.redacted;
  if (settings_.prefix.empty() ||
      std::any_of(settings_.prefix.begin(), settings_.prefix.end(), [](char ch) {
        return static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f;
      }))
    throw config_error("--broker-prefix must be printable ASCII without spaces, got '" +
                       settings_.prefix + "'");
  k_seq_ = settings_.prefix + ":seq";
  k_events_ = settings_.prefix + ":events";
  k_epoch_ = settings_.prefix + ":epoch";
  k_id_ = settings_.prefix + ":id:";
  k_nodes_ = settings_.prefix + ":nodes";
  k_present_ = settings_.prefix + ":present";
  k_node_ = settings_.prefix + ":node:";
  k_bus_ = settings_.prefix + ":bus";
  node_ = random_epoch();
  script_ = publish_script;

  // The start, synchronously: retried until `wait` has passed.
  const auto give_up = std::chrono::steady_clock::now() + settings_.wait;
  std::string why;
  int told = 0;
  for (;;) {
    why.clear();
    timeval tv{2, 0};
    bool refused = false;  // by Redis itself (a password): trying again will not help
    redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, tv);
    if (!c || c->err) {
      why = c ? c->errstr : "out of memory";
      if (c) redisFree(c);
    } else {
      auto run = [&](const std::vector<std::string>& args) -> std::string {
        redisReply* r = sync_command(c, args);
        if (!r) return c->errstr[0] ? c->errstr : "no answer";
        std::string text = reply_text(r);
        if (is_error(r)) {
          freeReplyObject(r);
          return "ERR:" + text;
        }
        if (r->type == REDIS_REPLY_INTEGER) text = std::to_string(r->integer);
        freeReplyObject(r);
        return text;
      };
      auto failed = [&](const std::string& got, const char* what) {
        if (got.rfind("ERR:", 0) != 0 && c->err == 0) return false;
        why = std::string(what) + ": " + (c->err ? std::string(c->errstr) : got.substr(4));
        return true;
      };
      bool ok = true;
      if (!password_.empty()) {
        const std::string got =
            user_.empty() ? run({"AUTH", password_}) : run({"AUTH", user_, password_});
        ok = !failed(got, "AUTH refused");
        refused = !ok && c->err == 0;
      }
      if (ok && db_ != 0) ok = !failed(run({"SELECT", std::to_string(db_)}), "SELECT refused");
      if (ok) {
        const std::string sha = run({"SCRIPT", "LOAD", script_});
        ok = !failed(sha, "SCRIPT LOAD refused");
        if (ok) sha_ = sha;
        const std::string psha = ok ? run({"SCRIPT", "LOAD", presence_script}) : std::string();
        ok = ok && !failed(psha, "SCRIPT LOAD refused");
        if (ok) presence_sha_ = psha;
      }
      if (ok) {
        // The nodes' channels (live-only events, questions): a Redis ACL user needs them
        // (Redis 7 grants no channel by default). Nodes ignore this greeting.
        const std::string got = run({"PUBLISH", k_bus_, R"({"k":"hello"})"});
        if (got.rfind("ERR:", 0) == 0) {
          ok = false;
          refused = c->err == 0;
          why = "PUBLISH refused: " + got.substr(4) + " (a Redis ACL user needs the channels '" +
                k_bus_ + "*': ACL SETUSER … &" + k_bus_ + "*)";
        }
      }
      if (ok) {
        const std::string made = random_epoch();
        ok = !failed(run({"SET", k_epoch_, made, "NX"}), "SET refused");
        if (ok) {
          const std::string e = run({"GET", k_epoch_});
          ok = !failed(e, "GET refused");
          epoch_ = e;
        }
      }
      if (ok) {
        const std::string seq = run({"GET", k_seq_});
        ok = !failed(seq, "GET refused");
        last_seq_at_start_ = std::strtoull(seq.c_str(), nullptr, 10);
      }
      if (ok) {
        // What the history still has, so a resume right after the start is judged on it.
        redisReply* first = sync_command(c, {"XRANGE", k_events_, "-", "+", "COUNT", "1"});
        std::uint64_t first_seq = 0;
        if (first && first->type == REDIS_REPLY_ARRAY && first->elements > 0)
          first_seq = seq_of_id(reply_text(first->element[0]->element[0]));
        if (first) freeReplyObject(first);
        first_seq_ = first_seq;
        pruned_through_ = first_seq > 0 ? first_seq - 1 : last_seq_at_start_;
      }
      if (ok && epoch_.empty()) {
        ok = false;
        why = "the epoch key " + k_epoch_ + " could not be read";
      }
      redisFree(c);
      if (ok) break;
    }
    if (refused) break;
    if (std::chrono::steady_clock::now() >= give_up) break;
    if (told++ == 0 && settings_.waiting) settings_.waiting(why);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!why.empty())
    throw broker_unavailable("cannot use the broker " + shown_ + ": " + why +
                             (settings_.wait.count() > 0 ? " (gave up after --broker-wait)" : ""));
  fed_ = last_seq_at_start_;
  last_seq_ = fed_;
}

redis_engine::~redis_engine() {
  stopping_ = true;
  if (timer_ && loop_) ev_timer_stop(loop_, &timer_->timer);
  if (beat_timer_ && loop_) ev_timer_stop(loop_, &beat_timer_->timer);
  say_goodbye();
  for (auto* c : {cmd_.get(), reader_.get(), bus_.get()})
    if (c && c->ac) {
      redisAsyncContext* ac = c->ac;
      c->ac = nullptr;
      ac->data = nullptr;
      redisAsyncFree(ac);  // pending callbacks run with no reply; stopping_ makes them no-ops
    }
}

std::string redis_engine::epoch() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return epoch_;
}

store_stats redis_engine::stats() const {
  store_stats s;
  s.events = events_;
  s.first_seq = first_seq_;
  s.last_seq = last_seq_;
  s.pruned_through = pruned_through_;
  if (settings_.retention.max_age)
    s.pruned_before_us =
        rtev::time::now().time_since_epoch().count() -
        std::chrono::duration_cast<std::chrono::microseconds>(*settings_.retention.max_age).count();
  return s;
}

store_health redis_engine::health() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return health_;
}

void redis_engine::note(bool ok, const std::string& why) {
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (health_.ok != ok) {
      changed = true;
      health_.ok = ok;
      health_.last_error = ok ? std::string() : why;
      health_.failing_since_us = ok ? 0 : rtev::time::now().time_since_epoch().count();
      if (!ok) ++health_.failed_writes;
    }
  }
  if (changed && health_listener_) health_listener_(ok, why);
}

// --- connections -----------------------------------------------------------------------------

void redis_engine::attach(struct ev_loop* loop) {
  loop_ = loop;
  cmd_ = std::make_unique<connection>();
  cmd_->owner = this;
  cmd_->role = "commands";
  reader_ = std::make_unique<connection>();
  reader_->owner = this;
  reader_->role = "reader";
  bus_ = std::make_unique<connection>();
  bus_->owner = this;
  bus_->role = "bus";
  connected(*cmd_);
  connected(*reader_);
  connected(*bus_);
  timer_ = std::make_unique<ev_timer_holder>();
  timer_->owner = this;
  ev_timer_init(
      &timer_->timer,
      [](struct ev_loop* l, ev_timer* w, int revents) { redis_engine::on_timer(l, w, revents); },
      0.5, 0.5);
  ev_timer_start(loop_, &timer_->timer);
  // The presence heartbeat, on its own timer so its period is exact (a quarter of the TTL).
  beat_timer_ = std::make_unique<ev_timer_holder>();
  beat_timer_->owner = this;
  const double period = std::chrono::duration<double>(settings_.node_ttl).count() / 4;
  ev_timer_init(
      &beat_timer_->timer,
      [](struct ev_loop* /*l*/, ev_timer* w, int /*revents*/) {
        static_cast<ev_timer_holder*>(static_cast<void*>(w))->owner->beat();
      },
      period, period);
  ev_timer_start(loop_, &beat_timer_->timer);
}

// (Re)opens `c`: AUTH and SELECT go first, queued before anything else it sends.
void redis_engine::connected(connection& c) {
  if (c.ac || stopping_) return;
  redisAsyncContext* ac = redisAsyncConnect(host_.c_str(), port_);
  if (!ac) return;
  if (ac->err) {
    const std::string why = ac->errstr;
    redisAsyncFree(ac);
    lost(c, why);
    return;
  }
  ac->data = &c;
  redisLibevAttach(loop_, ac);
  redisAsyncSetConnectCallback(ac, [](const redisAsyncContext* a, int status) {
    auto* conn = static_cast<connection*>(a->data);
    if (!conn) return;
    if (status != REDIS_OK) {
      conn->ac = nullptr;  // hiredis frees it
      conn->owner->lost(*conn, a->errstr);
    }
  });
  redisAsyncSetDisconnectCallback(ac, [](const redisAsyncContext* a, int /*status*/) {
    auto* conn = static_cast<connection*>(a->data);
    if (!conn) return;
    conn->ac = nullptr;  // hiredis frees it
    conn->owner->lost(*conn, a->err ? a->errstr : "the connection closed");
  });
  c.ac = ac;
  connection* cp = &c;
  auto ready = [this, cp](redisReply* r) {
    if (stopping_ || !r) return;
    if (is_error(r)) {
      note(false, std::string("the broker refused ") + cp->role + ": " + reply_text(r));
      if (cp->ac) redisAsyncDisconnect(cp->ac);
      return;
    }
    cp->retry.connected();
    if (cp == bus_.get()) return subscribe_bus();  // up once subscribed
    if (cp == cmd_.get()) {
      // Redis may have restarted without its script cache: load them again before anything
      // else this connection sends (the NOSCRIPT retry then stays a rare fallback).
      for (const std::string& body : {script_, std::string(presence_script)})
        cp->send({"SCRIPT", "LOAD", body}, [](redisReply*) {});
      cmd_ever_up_ = true;
    }
    cp->up = true;
    all_up();
    if (cp == reader_.get()) read_next();
    if (cp == cmd_.get()) {
      check_epoch();
      sync_presence();
    }
  };
  if (!password_.empty())
    c.send(user_.empty() ? std::vector<std::string>{"AUTH", password_}
                         : std::vector<std::string>{"AUTH", user_, password_},
           [this, cp](redisReply* r) {
             if (stopping_ || !r || !is_error(r)) return;
             note(false, std::string("the broker refused AUTH: ") + reply_text(r));
             if (cp->ac) redisAsyncDisconnect(cp->ac);
           });
  c.send({"SELECT", std::to_string(db_)}, ready);
}

// Up — or, before it has ever been, connecting: at start the first commands wait behind AUTH
// and SELECT. After that a node without its connection refuses at once (a reconnection to a
// Redis that does not answer could hold them for minutes).
bool redis_engine::commands_open() const {
  return cmd_ && (cmd_->up || (!cmd_ever_up_ && cmd_->ac));
}

// Healthy with the connections publishing and delivering need; the bus (live-only events,
// questions) is logged on its own.
void redis_engine::all_up() {
  if (cmd_->up && reader_->up) note(true, {});
}

void redis_engine::lost(connection& c, const std::string& why) {
  const bool was_up = c.up;
  c.up = false;
  if (&c == cmd_.get()) registered_ = false;  // written again once back (sync_presence)
  const auto now = std::chrono::steady_clock::now();
  if (was_up) c.retry.disconnected(now);
  c.retry_at = now + c.retry.next().value_or(std::chrono::seconds(5));
  if (stopping_) return;
  if (&c == bus_.get()) {
    // Live-only events and questions wait for it; publishing and delivery go on.
    if (was_up && settings_.log)
      settings_.log->write(log_level::warn, "broker bus connection lost, reconnecting",
                           {{"error", why}});
    return;
  }
  // Publishes out on a lost connection get no answer and are not acknowledged (they may or
  // may not be stored: a retry with the same id is stored once).
  if (was_up || health().ok) note(false, std::string("the broker is unreachable: ") + why);
}

void redis_engine::on_timer(struct ev_loop* /*loop*/, void* w, int /*revents*/) {
  redis_engine& self = *static_cast<ev_timer_holder*>(w)->owner;
  if (self.stopping_) return;
  const auto now = std::chrono::steady_clock::now();
  for (connection* c : {self.cmd_.get(), self.reader_.get(), self.bus_.get()})
    if (!c->ac && now >= c->retry_at) self.connected(*c);
  self.nodes_upkeep(now);
  if (!self.cmd_->up) return;
  self.check_epoch();
  // Upkeep: the stream's length and first entry (stats, replay's "pruned" check), and
  // retention by age.
  self.cmd_->send({"XLEN", self.k_events_}, [&self](redisReply* r) {
    if (!self.stopping_ && r && r->type == REDIS_REPLY_INTEGER)
      self.events_ = static_cast<std::uint64_t>(r->integer);
  });
  // The first entry, or with an age limit the oldest 256 (what one pass may trim).
  const char* count = self.settings_.retention.max_age ? "256" : "1";
  // An empty stream says every event up to what this node had read when it asked is gone —
  // not the ones read since (they may have been added after the read ran).
  const std::uint64_t fed_then = self.fed_;
  self.cmd_->send({"XRANGE", self.k_events_, "-", "+", "COUNT", count}, [&self,
                                                                         fed_then](redisReply* r) {
    if (self.stopping_ || !r || r->type != REDIS_REPLY_ARRAY) return;
    self.first_seq_ = r->elements > 0 ? seq_of_id(reply_text(r->element[0]->element[0])) : 0;
    self.pruned_through_ = self.first_seq_ > 0 ? self.first_seq_ - 1 : fed_then;
    if (!self.settings_.retention.max_age || r->elements == 0) return;
    const std::int64_t cutoff =
        rtev::time::now().time_since_epoch().count() -
        std::chrono::duration_cast<std::chrono::microseconds>(*self.settings_.retention.max_age)
            .count();
    std::uint64_t keep_from = 0;
    for (std::size_t i = 0; i < r->elements; ++i) {
      std::uint64_t seq = 0;
      new_event e;
      if (!read_entry(r->element[i], seq, e)) continue;
      if (e.time_us >= cutoff) break;
      keep_from = seq + 1;
    }
    if (keep_from != 0)
      self.cmd_->send({"XTRIM", self.k_events_, "MINID", std::to_string(keep_from) + "-0"},
                      [&self, keep_from](redisReply* t) {
                        if (self.stopping_ || !t || t->type != REDIS_REPLY_INTEGER ||
                            t->integer == 0 || !self.settings_.log)
                          return;
                        self.settings_.log->write(log_level::debug, "history trimmed by age",
                                                  {{"events", std::to_string(t->integer)},
                                                   {"kept_from_seq", std::to_string(keep_from)}});
                      });
  });
}

// --- the epoch -------------------------------------------------------------------------------

void redis_engine::check_epoch() {
  cmd_->send({"GET", k_epoch_}, [this](redisReply* r) {
    if (stopping_ || !r || is_error(r)) return;
    const std::string now = reply_text(r);
    if (!now.empty()) {
      if (now != epoch()) adopt_epoch(now);
      return;
    }
    // Gone: the data was flushed or replaced. The first node to notice makes the new epoch.
    cmd_->send({"SET", k_epoch_, random_epoch(), "NX"}, [this](redisReply* s) {
      if (!stopping_ && s) check_epoch();
    });
  });
}

void redis_engine::adopt_epoch(const std::string& epoch) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    epoch_ = epoch;
  }
  // The new history's seqs start again: read it from its beginning.
  cmd_->send({"GET", k_seq_}, [this, epoch](redisReply* r) {
    if (stopping_ || !r) return;
    const std::uint64_t seq = std::strtoull(reply_text(r).c_str(), nullptr, 10);
    fed_ = 0;
    ++generation_;
    last_seq_ = seq;
    pruned_through_ = 0;  // the new history's own, measured again by the next upkeep
    if (settings_.log)
      settings_.log->write(log_level::warn,
                           "history replaced: the broker's data was lost, a new epoch begins",
                           {{"epoch", epoch}, {"last_seq", std::to_string(seq)}});
    if (reset_) reset_(0);
    fail_appends("the broker's history was replaced (a new epoch) before this was delivered");
  });
}

// --- publishing --------------------------------------------------------------------------------

void redis_engine::append(std::vector<new_event> events, append_done done) {
  auto call = std::make_shared<publish_call>();
  call->n = events.size();
  call->done = std::move(done);
  if (!commands_open()) {
    fail_call(*call, "the broker is unreachable: nothing was stored");
    return;
  }
  call->args = {
      "EVALSHA",
      sha_,
      "3",
      k_seq_,
      k_events_,
      k_epoch_,
      epoch(),
      std::to_string(settings_.idempotency_window.count()),
      std::to_string(settings_.retention.max_events ? *settings_.retention.max_events : 0),
      k_id_};
  call->args.reserve(call->args.size() + events.size() * 8);
  for (new_event& e : events) {
    call->args.push_back(e.id);
    call->args.push_back(e.own_id ? "1" : "0");
    call->args.push_back(std::move(e.type));
    call->args.push_back(std::move(e.room));
    call->args.push_back(std::move(e.data));
    call->args.push_back(std::to_string(e.time_us));
    call->args.push_back(std::move(e.stamp));
    call->args.push_back(std::move(e.zone));
  }
  send_publish(call, false);
}

void redis_engine::send_publish(const std::shared_ptr<publish_call>& call, bool retried) {
  if (!cmd_->send(call->args,
                  [this, call, retried](redisReply* r) { on_published(call, r, retried); }))
    fail_call(*call, "the broker is unreachable: nothing was stored");
}

void redis_engine::fail_call(publish_call& call, const std::string& why) {
  if (!call.done) return;
  auto done = std::move(call.done);
  call.done = nullptr;
  done(std::vector<append_outcome>(call.n, append_outcome{false, why, 0, false, "unavailable"}));
}

void redis_engine::on_published(const std::shared_ptr<publish_call>& call, redisReply* r,
                                bool retried) {
  if (stopping_) return;
  if (!r)
    return fail_call(*call, "the broker went away before answering: nothing was acknowledged");
  if (is_error(r)) {
    const std::string err = reply_text(r);
    if (!retried && err.rfind("NOSCRIPT", 0) == 0) {
      call->args[0] = "EVAL";  // Redis restarted and lost its script cache
      call->args[1] = script_;
    } else if (!retried && err.rfind("EPOCH", 0) == 0) {
      // The history was replaced: adopt the new epoch (queued first), then try once more.
      check_epoch();
    } else {
      return fail_call(*call, "the broker refused the publish: " + err);
    }
    send_publish(call, true);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != call->n)
    return fail_call(*call, "the broker answered the publish unexpectedly");
  auto w = std::make_unique<waiting_append>();
  w->out.resize(call->n);
  for (std::size_t i = 0; i < call->n; ++i) {
    const long long v = r->element[i]->integer;
    w->out[i].seq = static_cast<std::uint64_t>(v < 0 ? -v : v);
    w->out[i].duplicate = v < 0;
    if (v > 0) w->max_seq = std::max(w->max_seq, w->out[i].seq);
  }
  w->done = std::move(call->done);
  call->done = nullptr;
  // Answered once the reader has fed these events, so an acknowledged seq is one this node
  // has delivered and can replay.
  waiting_.push_back(std::move(w));
  release_appends();
}

void redis_engine::release_appends() {
  while (!waiting_.empty() && waiting_.front()->max_seq <= fed_) {
    auto w = std::move(waiting_.front());
    waiting_.pop_front();
    if (w->done) w->done(std::move(w->out));
  }
}

void redis_engine::fail_appends(const std::string& why) {
  auto all = std::move(waiting_);
  waiting_.clear();
  for (auto& w : all) {
    for (auto& o : w->out) o = append_outcome{false, why, 0, false, "unavailable"};
    if (w->done) w->done(std::move(w->out));
  }
}

}  // namespace rtev::server_lite
