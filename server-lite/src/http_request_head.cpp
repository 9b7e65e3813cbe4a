#include "http_request_head.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "wire/sse_parser.hpp"

namespace rtev::server_lite {

namespace {

// lws stores the value of a token that reached its limit cut to exactly the limit.
constexpr unsigned short token_limit = static_cast<unsigned short>(max_header_bytes + 1);

const lws_token_indexes method_tokens[] = {
    WSI_TOKEN_GET_URI,   WSI_TOKEN_POST_URI,   WSI_TOKEN_OPTIONS_URI, WSI_TOKEN_PUT_URI,
    WSI_TOKEN_PATCH_URI, WSI_TOKEN_DELETE_URI, WSI_TOKEN_CONNECT,     WSI_TOKEN_HEAD_URI};
const char* const method_names[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                    "PATCH", "DELETE", "CONNECT", "HEAD"};

bool is_method_token(int t) {
  return std::any_of(std::begin(method_tokens), std::end(method_tokens),
                     [t](lws_token_indexes m) { return m == t; });
}

}  // namespace

std::string request_header(lws* wsi, lws_token_indexes h) {
  const int n = lws_hdr_total_length(wsi, h);
  if (n <= 0) return {};
  std::string v(static_cast<std::size_t>(n) + 1, '\0');
  if (lws_hdr_copy(wsi, &v[0], n + 1, h) < 0) return {};
  v.resize(static_cast<std::size_t>(n));
  return v;
}

namespace {

// A header that was sent, even with an empty value (lws_hdr_total_length says 0 for both).
bool has_token(lws* wsi, lws_token_indexes h) {
  if (lws_hdr_total_length(wsi, h) > 0) return true;
  char c = 0;
  return lws_hdr_copy_fragment(wsi, &c, 1, h, 0) >= 0;  // -1 only when absent (or longer)
}

// The header's name as lws spells it ("cookie:"), without the colon.
std::string token_name(int t) {
  const auto* s =
      reinterpret_cast<const char*>(lws_token_to_string(static_cast<lws_token_indexes>(t)));
  std::string name = s ? s : "header " + std::to_string(t);
  if (!name.empty() && name.back() == ':') name.pop_back();
  return name;
}

http_response bad_request(const std::string& message) {
  return json_error(400, "bad_request", message);
}

std::optional<http_response> size_refusal(lws* wsi) {
  std::size_t path_len = 0;
  for (lws_token_indexes m : method_tokens)
    path_len += static_cast<std::size_t>(std::max(0, lws_hdr_total_length(wsi, m)));
  const int query_len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  const std::size_t url_len =
      path_len + (query_len > 0 ? 1 + static_cast<std::size_t>(query_len) : 0);
  if (url_len > max_url_bytes)
    return json_error(414, "uri_too_long",
                      "the URL is longer than " + std::to_string(max_url_bytes) + " bytes");
  for (int t = 0; t < WSI_TOKEN_COUNT; ++t) {
    if (is_method_token(t) || t == WSI_TOKEN_HTTP_URI_ARGS) continue;
    const int n = lws_hdr_total_length(wsi, static_cast<lws_token_indexes>(t));
    if (n > 0 && static_cast<std::size_t>(n) > max_header_bytes)
      return json_error(431, "header_too_large",
                        "header '" + token_name(t) + "' is longer than " +
                            std::to_string(max_header_bytes) + " bytes");
  }
  return std::nullopt;
}

std::optional<http_response> utf8_refusal(const http_request& req) {
  if (!is_utf8(req.path))
    return bad_request(path_subject(req.path) + ": invalid UTF-8");
  for (const auto& [k, v] : req.query) {
    if (!is_utf8(k)) return bad_request("a query parameter name is not valid UTF-8");
    if (!is_utf8(v)) return bad_request("query parameter '" + k + "': invalid UTF-8");
  }
  return std::nullopt;
}

std::optional<http_response> length_refusal(lws* wsi, std::size_t max_body) {
  const bool has_length = has_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  if (has_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING)) {
    // lws 4.1 does not decode chunked request bodies: it would hand the chunk framing to us
    // as body bytes and wait for a length that never comes.
    if (has_length)
      return bad_request(
          "Content-Length and Transfer-Encoding together are not allowed: send only "
          "Content-Length");
    return json_error(411, "length_required",
                      "chunked request bodies are not supported: send Content-Length");
  }
  if (!has_length) return std::nullopt;
  // lws joins repeated headers with ',', so two lengths fail the digits check too.
  const std::string cl = request_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  if (cl.empty() || !std::all_of(cl.begin(), cl.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad_request("Content-Length: expected one number of bytes, got '" + cl + "'");
  const auto too_large = [&] {
    return json_error(413, "too_large",
                      "the request body is over " + std::to_string(max_body) + " bytes");
  };
  const std::string digits = cl.substr(std::min(cl.find_first_not_of('0'), cl.size()));
  if (digits.size() > 18 || std::stoull("0" + digits) > max_body) return too_large();
  return std::nullopt;
}

}  // namespace

const lws_token_limits* token_limits() {
  static const lws_token_limits limits = [] {
    lws_token_limits l{};
    std::fill(std::begin(l.token_limit), std::end(l.token_limit), token_limit);
    return l;
  }();
  return &limits;
}

std::string request_method(lws* wsi) {
  for (std::size_t i = 0; i < std::size(method_tokens); ++i)
    if (has_token(wsi, method_tokens[i])) return method_names[i];
  return "OTHER";
}

std::multimap<std::string, std::string> request_query(lws* wsi) {
  std::multimap<std::string, std::string> out;
  for (int i = 0;; ++i) {
    const int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
    std::string frag(static_cast<std::size_t>(std::max(n, 0)) + 1, '\0');
    const int got = lws_hdr_copy_fragment(wsi, &frag[0], static_cast<int>(frag.size()),
                                          WSI_TOKEN_HTTP_URI_ARGS, i);
    if (got < 0) break;
    frag.resize(static_cast<std::size_t>(got));
    const auto eq = frag.find('=');
    if (eq == std::string::npos)
      out.emplace(frag, "");
    else
      out.emplace(frag.substr(0, eq), frag.substr(eq + 1));
  }
  return out;
}

std::optional<http_response> head_refusal(lws* wsi, const http_request& req, std::size_t max_body) {
  if (auto r = size_refusal(wsi)) return r;
  if (auto r = utf8_refusal(req)) return r;
  return length_refusal(wsi, max_body);
}

std::string path_subject(std::string_view path) {
  return path.rfind("/api/users/", 0) == 0 ? "user id" : "path";
}

bool is_utf8(std::string_view text) {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return true;
  return rtev::detail::sanitize_utf8(text) == text;
}

}  // namespace rtev::server_lite
