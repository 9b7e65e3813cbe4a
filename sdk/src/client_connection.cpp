// rtev::client's connection (client::impl): each attempt and its token (token_provider or
// async_token_provider), `authenticated` (epoch change, resubscription, the flush), the
// transport's sink (raw frames, protocol messages), the end of an attempt — what it fails, then
// backoff and a retry on the next server, or the client's close for good. See client_impl.hpp.

#include "client_impl.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace rtev {

// --- connection ---------------------------------------------------------------------------------

std::string client::impl::current_token() {
  if (opt.token_provider) {
    try {
      return opt.token_provider();
    } catch (const std::exception& e) {
      report(make_error(client_error::kind::handler,
                        std::string("token provider threw: ") + e.what()));
    }
  }
  return opt.token;
}

void client::impl::connect() {
  retry_pending = false;
  if (stop_flag) return;
  ++generation;
  authenticated = false;
  attempt_active = true;
  last_close_code = last_http_status = 0;
  certificate_problem.clear();
  certificate_reason.clear();
  attempt_started = steady::now();
  frames_sent = 0;
  pacing = false;
  if (opt.async_token_provider) return ask_token();
  wire->open(current_token());
}

// async_token_provider: the attempt goes on in on_token, on the service thread.
void client::impl::ask_token() {
  awaiting_token = true;
  const std::uint64_t gen = generation;
  auto done = [w = weak_from_this(), gen](std::string token, std::string error) {
    if (auto i = w.lock())
      i->post([i = i.get(), gen, token = std::move(token), error = std::move(error)] {
        i->on_token(gen, token, error);
      });
  };
  try {
    opt.async_token_provider(std::move(done));
  } catch (const std::exception& e) {
    on_token(gen, {}, std::string("it threw: ") + e.what());
  }
}

void client::impl::on_token(std::uint64_t gen, const std::string& token, const std::string& error) {
  if (gen != generation || !awaiting_token || stop_flag) return;  // late, or a second call
  awaiting_token = false;
  if (!error.empty()) return token_failed("the token provider failed: " + error);
  attempt_started = steady::now();  // the connection gets its own connect_timeout
  wire->open(token);
}

void client::impl::token_failed(std::string why) {
  awaiting_token = false;
  detail::transport_end end;
  end.reason = std::move(why);
  end.error = errc::token_unavailable;
  on_end(std::move(end));
}

void client::impl::send_frame(json&& request) {
  ++frames_sent;
  if (pace) {
    refill();
    pace_tokens -= 1;
  }
  wire->send(std::move(request));
}

void client::impl::on_server_status(const json& d) {
  if (!d.is_object()) return;
  server_status_info s;
  const json status = d.value("status", json());
  const json reason = d.value("reason", json());
  const json stamp = d.value("timestamp", json());
  s.ok = !status.is_string() || status.get<std::string>() == "ok";
  if (reason.is_string()) s.reason = reason.get<std::string>();
  if (stamp.is_string()) s.timestamp = stamp.get<std::string>();
  // Told once per change (a repeat of the same state and reason is not news).
  if (s.ok == server_ok && (s.ok || s.reason == server_reason)) return;
  report_server_status(std::move(s));
}

void client::impl::on_authenticated(const json& d) {
  // The handshake says whether the server is ok (rtev serve puts `server_status` in it only
  // while it is not; SSE's stream headers say it, the reason follows as its own event).
  if (!d.value("server_status_pending", false))
    on_server_status(d.contains("server_status") ? d["server_status"] : json{{"status", "ok"}});
  authenticated = true;
  auth_retry_used = false;
  user_id = d.value("user_id", "");
  const std::string new_epoch = d.value("epoch", "");
  if (epoch && !new_epoch.empty() && *epoch != new_epoch) {
    // A different store: no seq we hold means anything in it. Every room with a recovery
    // point resumes from the new store's beginning (since 0: its events are replayed, none
    // missed) and the dedupe state starts afresh (it numbers from 1 again). The application
    // is told once per room, before any event of the new store — unless the room's point
    // was 0 (the old store had no event when it was joined, and none came): nothing to tell.
    std::vector<gap_info> gaps;
    epoch_restarts.clear();
    for (auto& [pattern, seq] : pattern_seq) {
      if (seq != 0) {
        gap_info g;
        g.room = pattern;
        g.server_last_seq = d.value("last_seq", std::uint64_t{0});
        g.epoch_changed = true;
        g.epoch = new_epoch;
        g.previous_epoch = *epoch;
        g.previous_seq = seq;
        gaps.push_back(std::move(g));
      }
      seq = 0;
      epoch_restarts.insert(pattern);
    }
    room_seq.clear();
    epoch = new_epoch;  // handlers below see the state the resubscriptions will use
    for (auto& g : gaps) report_gap(std::move(g));
  }
  if (!new_epoch.empty()) epoch = new_epoch;
  backoff.connected();
  // The automatic user:/role: rooms are resubscribed explicitly so they recover too.
  // An anonymous identity is new on every connection: its user room has nothing to recover.
  auto_rooms.clear();
  if (opt.recover && !d.value("anonymous", false)) {
    auto_rooms.push_back("user:" + user_id);
    if (d.contains("roles") && d["roles"].is_array())
      for (const auto& r : d["roles"])
        if (r.is_string()) auto_rooms.push_back("role:" + r.get<std::string>());
  }
  for (const auto& r : auto_rooms)
    if (!rooms.count(r)) subscribe(r);
  for (const auto& r : rooms) subscribe(r);
  start_flush(d);
  state_info s;
  s.state = client_state::connected;
  ++stats.connects;
  s.user_id = user_id;
  if (auto it = d.find("rate_limit"); it != d.end() && it->is_object()) {
    const json& r = *it;
    if (r.contains("per_second") && r["per_second"].is_number() && r.contains("burst") &&
        r["burst"].is_number() && r["per_second"].get<double>() > 0)
      s.rate_limit =
          rate_limit_info{r["per_second"].get<double>(), std::max(1.0, r["burst"].get<double>())};
  }
  s.foreign = d.value("foreign", false);
  if (s.foreign) s.reason = d.value("foreign_reason", std::string());
  set_state(s);
}

// --- transport_sink -----------------------------------------------------------------------------

void client::impl::on_raw(const std::string& text) {
  ++stats.messages_in;
  stats.bytes_in += text.size();
  to_app([this, text] {
    for (auto& e : reg->snapshot())
      if (e->on_raw && e->active) call_guarded([&] { e->on_raw(text); }, nullptr);
  });
}

void client::impl::on_message(json&& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return;
  const std::string type = j["type"].get<std::string>();
  if (type == "authenticated") return on_authenticated(j.value("data", json::object()));
  if (type == "auth_error") {
    const json d = j.value("data", json::object());
    last_reason = "authentication rejected: " +
                  (d.is_object() ? d.value("message", std::string()) : std::string());
    return;
  }
  if (type == "ACK") return on_ack(j);
  // The server's own state — never an event: events have an id (typing and presence have a
  // timestamp); server_status has neither.
  if (type == "server_status" && !j.contains("id") && !j.contains("timestamp"))
    return on_server_status(j.value("data", json::object()));
  if (type == "ERROR") return on_error_reply(j);
  if (type == "PONG") {
    // Ours are strings; a PONG to a raw PING may carry any JSON ref (not ours, and no throw).
    const std::string ref =
        j.contains("ref") && j["ref"].is_string() ? j["ref"].get<std::string>() : "";
    if (auto it = pings.find(ref); it != pings.end()) {
      const auto rtt =
          std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - it->second.sent);
      stats.round_trip_us = rtt.count();
      pending_ping q = std::move(it->second);
      pings.erase(it);
      end_request(q, rtt);
    }
    return;
  }
  on_event_message(std::move(j));
}

// The attempt ended (or never started): fail what cannot survive, then retry or close.
void client::impl::on_end(detail::transport_end end) {
  if (!attempt_active) return;
  attempt_active = false;
  const bool was_authenticated = authenticated;
  authenticated = false;
  last_close_code = end.close_code;
  last_http_status = end.http_status;
  // An auth_error's message (kept in last_reason) says more than the close that follows it.
  if (!end.reason.empty()) last_reason = end.reason;
  last_error = end.error                           ? end.error
               : end.was_open || was_authenticated ? make_error_code(errc::connection_lost)
                                                   : make_error_code(errc::connection_failed);
  if (was_authenticated) backoff.disconnected();
  for (auto& p : publishes)
    if (p.sent_on) {
      p.sent_on = 0;  // resent (same id) after reconnecting
      ++unsent;
    }
  fail_requests(make_error(client_error::kind::connection, "connection lost: " + last_reason));
  expired_histories.clear();
  pacing = false;
  lws_sul_cancel(&flush_timer.sul);
  subscribe_refs.clear();
  subscribe_since.clear();
  epoch_restart_refs.clear();
  rooms_lost();
  if (stop_flag) return;
  const bool not_here = end.final && !connected_set;
  final_answers = not_here ? final_answers + 1 : 0;

  // Another attempt would meet the same certificate: say what is wrong with it, once.
  if (!certificate_problem.empty()) {
    last_reason = certificate_reason;
    close_for_good(false, last_reason, errc::certificate_rejected, certificate_problem);
    return;
  }
  if (end.auth_rejected) {
    if ((opt.token_provider || opt.async_token_provider) && !auth_retry_used) {
      auth_retry_used = true;  // ask the provider once more, right away
      next_server();
      schedule_retry(std::chrono::milliseconds(0), 0);
      return;
    }
    close_for_good(true, last_reason.empty() ? "authentication rejected" : last_reason,
                   end.error ? end.error : errc::auth_failed, {}, end.token_required);
    return;
  }
  // A URL that never led to the server is a mistake to report at once; a client that has
  // been connected and now meets a 404 or a page is seeing a deploy or a proxy between
  // backends, and retries with the backoff like any lost connection.
  if (not_here && final_answers >= urls.size()) {  // every server said so, in a row
    close_for_good(false, last_reason, end.error ? end.error : errc::not_rtev_server);
    return;
  }
  if (!opt.reconnect) {
    close_for_good(false, last_reason, last_error);
    return;
  }
  auto wait = backoff.next();
  if (!wait) {
    close_for_good(
        false, "gave up after " + std::to_string(backoff.attempts()) + " retries: " + last_reason,
        errc::connection_failed);
    return;
  }
  // The server's reconnect time (SSE `retry:`) is the first delay; attempts that fail after
  // it back off from there, never below it.
  if (end.retry_after)
    wait = backoff.attempts() <= 1 ? *end.retry_after : std::max(*wait, *end.retry_after);
  next_server();
  schedule_retry(*wait, backoff.attempts());
}

// --- the next attempt, or the close -------------------------------------------------------------

// Several servers (client_options::urls): the next attempt goes to the next one.
void client::impl::next_server() {
  if (urls.size() < 2) return;
  url_at = (url_at + 1) % urls.size();
  url = urls[url_at].parsed;
  wire->retarget(url);
}

void client::impl::schedule_retry(std::chrono::milliseconds wait, std::uint32_t attempt) {
  ++stats.reconnect_attempts;
  state_info s;
  s.state = client_state::reconnecting;
  s.attempt = attempt;
  s.delay = wait;
  s.http_status = last_http_status;
  s.close_code = last_close_code;
  s.reason = last_reason;
  s.error = last_error;
  last_reason.clear();
  set_state(s);
  retry_pending = true;
  lws_sul_schedule(ctx, 0, &retry_timer.sul, on_retry,
                   static_cast<lws_usec_t>(wait.count()) * LWS_US_PER_MS);
}

void client::impl::on_retry(lws_sorted_usec_list_t* sul) {
  lws_container_of(sul, timer, sul)->owner->connect();
}

void client::impl::close_for_good(bool auth_failed, std::string reason, std::error_code why,
                                  std::string certificate, bool token_required) {
  state_info s;
  s.state = client_state::closed;
  s.error = closed_code = why;
  s.auth_failed = auth_failed;
  s.token_required = token_required;
  s.reason = std::move(reason);
  s.certificate_problem = std::move(certificate);
  s.http_status = last_http_status;
  s.close_code = last_close_code;
  closed_reason = s.reason;
  set_state(s);
  stop_flag = true;
}

}  // namespace rtev
