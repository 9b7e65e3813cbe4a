#pragma once
// The HTTP request head as libwebsockets 4.1 hands it over (method, decoded path and query),
// and the checks every request passes before it is routed: URL and header sizes (414, 431),
// the body's length (411, 400, 413) and UTF-8 in the path and query (400).
//
// lws has already percent-decoded the path and each query fragment, and answers malformed
// escapes (`%ZZ`) with its own 403 before any callback; a decoded NUL closes the connection
// inside lws. What reaches these functions is therefore decoded bytes, never checked for UTF-8.
//
// Service thread only (they read the wsi's header table).

#include <libwebsockets.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "http_api.hpp"

namespace rtev::server_lite {

/// The longest URL (path and query) and the longest single header value accepted, in bytes.
constexpr std::size_t max_url_bytes = 8191;
constexpr std::size_t max_header_bytes = 8191;
/// Size of lws's header table: room for a whole URL and several long headers. A head larger
/// than this is closed by lws without an answer (it gives no hook for it).
constexpr int header_table_bytes = 32 * 1024;

/// Per-token limits for lws_context_creation_info::token_limits. lws cuts a token that
/// reaches its limit and skips the rest of that line instead of failing the whole request,
/// so a value exactly at the limit marks one that was too long (see head_refusal).
const lws_token_limits* token_limits();

/// A header's value as lws holds it (repeated headers joined with ','), "" when absent.
std::string request_header(lws* wsi, lws_token_indexes h);

/// "GET", "POST", … as lws parsed it ("OTHER" if none matched).
std::string request_method(lws* wsi);

/// The query's `k=v` fragments, as lws decoded them (a fragment without '=' has value "").
std::multimap<std::string, std::string> request_query(lws* wsi);

/// Why this request is refused before routing, or nothing. `req` has method, path and query.
/// `max_body` is the largest body accepted (413 beyond it, from Content-Length alone).
std::optional<http_response> head_refusal(lws* wsi, const http_request& req, std::size_t max_body);

/// What an error about the request's path calls it: "user id" under /api/users/, else "path".
std::string path_subject(std::string_view path);

/// Whether `text` is valid UTF-8 (overlong forms and surrogates are not).
bool is_utf8(std::string_view text);

}  // namespace rtev::server_lite
