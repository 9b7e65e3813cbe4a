#pragma once
// Internal: what the client (client_impl.hpp) needs of client_options.cpp — the server URLs checked
// from the options, the announced rate limit read from `authenticated`, and the name of an errc.
//
// Threads: pure functions, any thread.

#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtev/client.hpp"
#include "transport.hpp"

namespace rtev::detail {

/// One server of client_options::url / urls, as given and parsed.
struct server_url {
  std::string text;
  parsed_url parsed;
};

/// The server URLs (`url`, then `urls`) and the options that go with the protocol, checked;
/// throws config_error naming what is wrong.
std::vector<server_url> checked_urls(const client_options& o);

/// The name of one of our codes, as client_error::code carries it ("auth_failed").
std::string code_name(std::error_code ec);

/// The limit a server announced in `authenticated` ({per_second, burst}); none when absent.
std::optional<rate_limit_info> announced_rate_limit(const nlohmann::json& d);

}  // namespace rtev::detail
