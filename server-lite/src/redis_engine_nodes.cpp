// redis_engine: what the nodes share besides stored events (redis_engine.hpp) — live-only
// events and questions to every node over pub/sub, presence across nodes, the heartbeat that
// lets the others see a node die.

#include "redis_engine_parts.hpp"

#include <hiredis/hiredis.h>

#include <utility>

#include <nlohmann/json.hpp>

#include "reply_json.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

// KEYS nodes, present; ARGV node, ttl (ms), mode, node key prefix, users…
// PREFIX:nodes holds each node's expiry (ms, Redis's clock); PREFIX:node:<node> the users
// present there; PREFIX:present how many nodes each user is present on. Modes: sync (this
// node's whole list: registers the node), join / leave (one user), beat (renews the node and
// takes out every node whose time is up — its users leave). Answers {status, came online,
// went offline, nodes}; status "gone" when this node was taken out (or the data lost): it
// must sync again. Like the publish script it builds key names (PREFIX:node:<node>) from its
// arguments, one reason Redis Cluster is not supported (docs/scale-out.md).
const char* const presence_script = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, ttl, mode, np = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local on, off = {}, {}
local function leave(n, u)
  if redis.call('SREM', np .. n, u) == 1 and redis.call('HINCRBY', KEYS[2], u, -1) <= 0 then
    redis.call('HDEL', KEYS[2], u)
    off[#off + 1] = u
  end
end
local function join(u)
  if redis.call('SADD', np .. node, u) == 1 and redis.call('HINCRBY', KEYS[2], u, 1) == 1 then
    on[#on + 1] = u
  end
end
if mode == 'sync' then
  redis.call('ZADD', KEYS[1], now + ttl, node)
  local want = {}
  for i = 5, #ARGV do want[ARGV[i]] = true end
  for _, u in ipairs(redis.call('SMEMBERS', np .. node)) do
    if not want[u] then leave(node, u) end
  end
  for i = 5, #ARGV do join(ARGV[i]) end
elseif not redis.call('ZSCORE', KEYS[1], node) then
  return {'gone', on, off, 0}
elseif mode == 'join' then
  join(ARGV[5])
elseif mode == 'leave' then
  leave(node, ARGV[5])
elseif mode == 'beat' then
  redis.call('ZADD', KEYS[1], now + ttl, node)
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)) do
    for _, u in ipairs(redis.call('SMEMBERS', np .. d)) do leave(d, u) end
    redis.call('DEL', np .. d)
    redis.call('ZREM', KEYS[1], d)
  end
end
return {'ok', on, off, redis.call('ZCARD', KEYS[1])}
)lua";

namespace {

const char* kind_name(node_question::kind k) {
  switch (k) {
    case node_question::kind::presence:
      return "presence";
    case node_question::kind::user:
      return "user";
    case node_question::kind::kick:
      return "kick";
    case node_question::kind::stats:
      break;
  }
  return "stats";
}

std::optional<node_question::kind> kind_named(const std::string& name) {
  for (auto k : {node_question::kind::presence, node_question::kind::user,
                 node_question::kind::kick, node_question::kind::stats})
    if (name == kind_name(k)) return k;
  return std::nullopt;
}

// A node_report on the bus, and back. Short keys: it is the nodes' private wire.
json report_json(const node_report& r) {
  json users = json::array();
  for (const auto& u : r.users) users.push_back({u.user_id, u.connections});
  return {{"node", r.node},   {"users", users}, {"c", r.connections},
          {"u", r.user_ids},  {"r", r.rooms},   {"p", r.published},
          {"d", r.delivered}, {"x", r.dropped}, {"up", r.uptime_s}};
}

node_report report_of(const json& j) {
  node_report r;
  r.node = j.at("node").get<std::string>();
  for (const auto& u : j.at("users"))
    r.users.push_back({u.at(0).get<std::string>(), u.at(1).get<std::size_t>()});
  r.connections = j.at("c").get<std::size_t>();
  r.user_ids = j.at("u").get<std::vector<std::string>>();
  r.rooms = j.at("r").get<std::vector<std::string>>();
  r.published = j.at("p").get<std::uint64_t>();
  r.delivered = j.at("d").get<std::uint64_t>();
  r.dropped = j.at("x").get<std::uint64_t>();
  r.uptime_s = j.at("up").get<double>();
  return r;
}

std::vector<std::string> strings_of(const redisReply* r) {
  std::vector<std::string> out;
  if (!r || r->type != REDIS_REPLY_ARRAY) return out;
  out.reserve(r->elements);
  for (std::size_t i = 0; i < r->elements; ++i) out.push_back(reply_text(r->element[i]));
  return out;
}

}  // namespace

// --- the bus ---------------------------------------------------------------------------------

void redis_engine::subscribe_bus() {
  connection* b = bus_.get();
  b->send(
      {"SUBSCRIBE", k_bus_, k_bus_ + ":" + node_},
      [this, b](redisReply* r) {
        if (stopping_ || !r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
        const std::string kind = reply_text(r->element[0]);
        if (kind == "subscribe") {
          if (r->element[2]->integer == 2 && !b->up) {
            b->up = true;
            all_up();
          }
          return;
        }
        if (kind == "message") on_bus(reply_text(r->element[1]), reply_text(r->element[2]));
      },
      true);
}

// Everything on the bus is from a node of this deployment; still, a message that is not what
// a node writes is dropped, never trusted further.
void redis_engine::on_bus(const std::string& channel, const std::string& message) {
  json m = json::parse(message, nullptr, false);
  if (!m.is_object() || !m.contains("k") || !m.contains("n")) return;
  try {
    const std::string kind = m.at("k").get<std::string>();
    const std::string from = m.at("n").get<std::string>();
    if (channel != k_bus_) {  // an answer to this node
      if (kind != "answer") return;
      const auto it = questions_.find(m.at("q").get<std::uint64_t>());
      if (it == questions_.end()) return;  // answered too late
      it->second->reports.push_back(report_of(m.at("r")));
      ++it->second->answered;
      if (it->second->expected && it->second->answered >= *it->second->expected)
        finish_question(it->first);
      return;
    }
    if (from == node_) return;  // this node's own, already delivered or answered here
    if (kind == "live") {
      auto e = std::make_shared<shared_event>();
      e->type = m.at("t").get<std::string>();
      e->room = m.at("r").get<std::string>();
      e->json = m.at("j").get<std::string>();
      if (live_feed_) live_feed_(e);
    } else if (kind == "ask" && view_.report) {
      const auto what = kind_named(m.at("w").get<std::string>());
      if (!what) return;
      json answer = {{"k", "answer"},
                     {"n", node_},
                     {"q", m.at("q")},
                     {"r", report_json(view_.report({*what, m.at("a").get<std::string>()}))}};
      cmd_->send({"PUBLISH", k_bus_ + ":" + from, json_text(answer)}, [](redisReply*) {});
    }
  } catch (const json::exception&) {
    // not a message a node writes
  }
}

void redis_engine::share(const event_ptr& event) {
  if (!cmd_ || !cmd_->up) return;  // live-only: whoever is not reachable now misses it
  json m = {
      {"k", "live"}, {"n", node_}, {"t", event->type}, {"r", event->room}, {"j", event->json}};
  cmd_->send({"PUBLISH", k_bus_, json_text(m)}, [](redisReply*) {});
}

void redis_engine::ask_nodes(const node_question& q, const ask_done& done) {
  const std::size_t others = known_nodes_ > 0 ? known_nodes_ - 1 : 0;
  // The same question already out (a dashboard polling /api/stats from several tabs): its
  // answer serves this one too — every node does the work once. A kick is never shared.
  if (q.what != node_question::kind::kick)
    for (auto& [id, out] : questions_)
      if (out->what == q.what && out->arg == q.arg) {
        out->also.push_back(done);
        return;
      }
  std::vector<node_report> mine;
  if (view_.report) mine.push_back(view_.report(q));
  // Nobody else can be asked, or too many questions are out already: this node's part, and
  // how many nodes the last heartbeat counted as missing.
  if (!cmd_ || !cmd_->up || !bus_->up || questions_.size() >= max_questions)
    return done(std::move(mine), others);
  auto ask = std::make_unique<question>();
  ask->what = q.what;
  ask->arg = q.arg;
  ask->reports = std::move(mine);
  ask->done = done;
  const std::uint64_t id = next_question_++;
  ask->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  questions_.emplace(id, std::move(ask));
  // How many nodes hear it: the subscribers of the channel itself (NUMSUB; PUBLISH's own
  // count includes pattern subscribers — a monitoring PSUBSCRIBE — who never answer).
  cmd_->send({"PUBSUB", "NUMSUB", k_bus_}, [this, id, others](redisReply* r) {
    if (stopping_) return;
    const auto it = questions_.find(id);
    if (it == questions_.end()) return;
    long long heard = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_INTEGER)
      heard = r->element[1]->integer - 1;  // this node's own subscription
    it->second->expected = heard >= 0 ? static_cast<std::size_t>(heard) : others;
    if (it->second->answered >= *it->second->expected) finish_question(id);
  });
  const json m = {{"k", "ask"}, {"n", node_}, {"q", id}, {"w", kind_name(q.what)}, {"a", q.arg}};
  cmd_->send({"PUBLISH", k_bus_, json_text(m)}, [](redisReply*) {});
}

void redis_engine::finish_question(std::uint64_t id) {
  const auto it = questions_.find(id);
  if (it == questions_.end()) return;
  std::unique_ptr<question> q = std::move(it->second);
  questions_.erase(it);
  const std::size_t expected = q->expected.value_or(known_nodes_ > 0 ? known_nodes_ - 1 : 0);
  const std::size_t missing = expected > q->answered ? expected - q->answered : 0;
  for (const ask_done& also : q->also) also(q->reports, missing);
  q->done(std::move(q->reports), missing);
}

// --- presence --------------------------------------------------------------------------------

void redis_engine::run_presence(const char* mode, std::vector<std::string> users) {
  std::vector<std::string> args = {
      "EVALSHA",
      presence_sha_,
      "2",
      k_nodes_,
      k_present_,
      node_,
      std::to_string((settings_.node_ttl - settings_.node_ttl / 4).count()),
      mode,
      k_node_};
  args.reserve(args.size() + users.size());
  for (auto& u : users) args.push_back(std::move(u));
  auto sent = std::make_shared<std::vector<std::string>>(std::move(args));
  cmd_->send(*sent, [this, sent](redisReply* r) {
    if (stopping_ || !r) return;
    if (is_error(r) && reply_text(r).rfind("NOSCRIPT", 0) == 0) {
      (*sent)[0] = "EVAL";  // Redis restarted and lost its script cache
      (*sent)[1] = presence_script;
      cmd_->send(*sent, [this](redisReply* again) { on_presence(again); });
      return;
    }
    on_presence(r);
  });
}

void redis_engine::on_presence(redisReply* r) {
  if (stopping_ || !r) return;
  if (is_error(r) && settings_.log)
    settings_.log->write(log_level::warn, "the broker refused a presence update",
                         {{"error", reply_text(r)}});
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) return;
  if (reply_text(r->element[0]) == "gone") {
    // Taken out by another node (this one did not beat in time) or the data was lost: write
    // this node's presence again; whoever it brings back online is announced again.
    if (registered_) sync_presence();
    return;
  }
  if (r->element[3]->integer > 0) known_nodes_ = static_cast<std::size_t>(r->element[3]->integer);
  if (!presence_feed_) return;
  for (const std::string& u : strings_of(r->element[1])) presence_feed_(u, true);
  for (const std::string& u : strings_of(r->element[2])) presence_feed_(u, false);
}

void redis_engine::sync_presence() {
  if (!cmd_ || !cmd_->up) return;
  registered_ = true;
  run_presence("sync", view_.present_users ? view_.present_users() : std::vector<std::string>{});
}

void redis_engine::presence(const std::string& user_id, bool here) {
  // While not registered, the sync that follows the reconnection carries this change.
  if (registered_) run_presence(here ? "join" : "leave", {user_id});
}

void redis_engine::nodes_upkeep(std::chrono::steady_clock::time_point now) {
  std::vector<std::uint64_t> late;  // collected first: an answer may ask again
  for (const auto& [id, q] : questions_)
    if (now >= q->deadline) late.push_back(id);
  for (const std::uint64_t id : late) finish_question(id);
}

// Every quarter of the TTL: this node's entry is renewed for three quarters, and nodes whose
// entry ran out are taken out — a dead node within the TTL of its last beat.
void redis_engine::beat() {
  if (!stopping_ && registered_ && cmd_ && cmd_->up) run_presence("beat", {});
}

// On the way out (the loop has stopped): this node's entry expires now, so the next beat of
// another node takes its users out and announces who went offline. One short synchronous
// connection; a Redis that does not answer leaves it to the TTL.
void redis_engine::say_goodbye() {
  if (!registered_) return;
  timeval tv{0, 500000};
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return;
  }
  redisSetTimeout(c, tv);
  auto run = [c](const std::vector<std::string>& args) {
    if (redisReply* r = sync_command(c, args)) freeReplyObject(r);
  };
  if (!password_.empty())
    run(user_.empty() ? std::vector<std::string>{"AUTH", password_}
                      : std::vector<std::string>{"AUTH", user_, password_});
  if (db_ != 0) run({"SELECT", std::to_string(db_)});
  run({"ZADD", k_nodes_, "XX", "0", node_});
  redisFree(c);
}

}  // namespace rtev::server_lite
