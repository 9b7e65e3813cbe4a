#pragma once
// Which wire protocol (rtev, SSE, Socket.IO) a command speaks — from --protocol, RTEV_PROTOCOL,
// the profile or the URL — and refusing flags that do not apply to it. The choice itself is
// common_options::resolve_protocol (protocol_choice.cpp), which also rewrites the URL for the
// protocol (rtev serve's door paths) and fills the SSE and Socket.IO settings.
#include <initializer_list>
#include <string>

#include "common_options.hpp"

namespace rtev::cli {

/// "rtev", "sse", "socketio" → the protocol; throws usage_error naming `flag`.
wire_protocol parse_protocol(const std::string& flag, const std::string& text);
/// "the protocol here is sse (from the URL)": for errors about flags that do not apply.
std::string protocol_phrase(const common_options& opt);
/// Throws usage_error "FLAG needs --protocol P…" unless the resolved protocol is one of `ok`.
void require_protocol(const common_options& opt, const std::string& flag,
                      std::initializer_list<wire_protocol> ok);

}  // namespace rtev::cli
