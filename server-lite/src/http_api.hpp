#pragma once
// HTTP routes of server-lite: /health, /api/stats, /metrics, /api/events (POST), /api/history,
// /api/users/{id}. Transport-independent: the lws glue fills an http_request and sends the
// http_response. Service thread only (it reads the hub).

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "room_hub.hpp"
#include "rtev/server/server.hpp"

namespace rtev::server_lite {

using json = nlohmann::json;

struct http_request {
  std::string method;  ///< GET, POST, OPTIONS, …
  std::string path;
  std::multimap<std::string, std::string> query;  ///< decoded ?k=v pairs
  std::string authorization;                      ///< Authorization header
  std::string body;
  std::string remote;

  std::optional<std::string> param(const std::string& k) const;
  /// Bearer token from Authorization, else ?token= (a user's token; never the API key).
  std::string token() const;
  /// Bearer token from Authorization only ("" without one).
  std::string bearer() const;
};

struct http_response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers{};  ///< added to the common ones
};

/// `{"error":{"code","message"}}` with the status.
http_response json_error(int status, const std::string& code, const std::string& message);

/// The CORS headers every HTTP answer carries for `origin` (--cors-origin; none when empty).
std::vector<std::pair<std::string, std::string>> cors_headers(const std::string& origin);

/// `j` as compact JSON text; invalid UTF-8 in a string becomes U+FFFD instead of throwing
/// (a reply may quote what a client sent).
std::string reply_json(const json& j);

class http_api {
 public:
  http_api(const server_config& cfg, room_hub& hub, const authenticator& auth,
           steady::time_point started);

  /// Routes everything but SSE. Publishing answers asynchronously (after the store commits):
  /// `reply` may run later, on the service thread. Returns true if `reply` was or will be called.
  void handle(const http_request& req, const std::function<void(http_response)>& reply);

  /// Whether `req` carries the API key in `Authorization: Bearer` (always true when no key is
  /// configured). ?token= never carries it.
  bool has_api_key(const http_request& req) const;
  /// 401 (no key, or one in ?token=) or 403 (a wrong key), or nothing when the key is there.
  std::optional<http_response> key_refusal(const http_request& req) const;
  /// Why `req` may not read `room`'s history (empty: it may). The API key reads anything;
  /// otherwise the token's identity must be allowed to join the room (all rooms: admin).
  std::optional<http_response> history_refusal(const http_request& req,
                                               const std::string& room) const;
  server_stats stats() const;

 private:
  http_response health() const;
  /// /api/stats, answered once every node has (one node: at once).
  void stats_json(const std::function<void(http_response)>& reply) const;
  void user_across_nodes(node_question::kind what, const std::string& user,
                         const std::function<void(http_response)>& reply);
  http_response metrics() const;
  /// GET /api/catalog: rtev::catalog() as JSON, for the console's publish form.
  static http_response catalog_json();
  /// GET /api/connections?limit=&user= (API key): this node's connections and rooms, bounded.
  http_response connections_json(const http_request& req) const;
  /// `?limit=`: 1…, larger than `max` capped to it, `fallback` when absent; false with `bad` a
  /// 400 naming the parameter.
  static std::optional<std::size_t> limit_param(const http_request& req, std::size_t fallback,
                                                long max, http_response& bad);
  /// Answered through `reply` once the history reader has the page.
  void history(const http_request& req, const std::function<void(http_response)>& reply) const;
  void publish(const http_request& req, const std::function<void(http_response)>& reply);

  const server_config& cfg_;
  room_hub& hub_;
  const authenticator& auth_;
  steady::time_point started_;
};

}  // namespace rtev::server_lite
