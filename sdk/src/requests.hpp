#pragma once
// Internal: the request types of rtev::client (history, presence, ping) that do not need the
// client's state — a history query checked and put into a HISTORY frame's `data`, and the
// completion a future-returning call gives its request (an SDK-internal callback that fulfils
// a promise), so a future and a callback take the same path through the client.
//
// Threads: check_history_query() and history_frame_data() on the caller's thread; the
// completions on the client's service thread.

#include <future>
#include <memory>

#include <nlohmann/json.hpp>

#include "rtev/client.hpp"

namespace rtev::detail {

/// Throws config_error naming the bad field and the accepted values: since not null, a seq
/// (≥ 0) or a string; until not null or a string; limit not 1 to 1000. (What a string says —
/// an RFC 3339 time, "beginning" — is the server's to judge: it refuses with bad_request.)
void check_history_query(const history_query& q);

/// The HISTORY frame's `data` for a checked query: room, limit, since and until when set.
nlohmann::json history_frame_data(const history_query& q);

/// A request's completion that fulfils `promise`: the result, or request_error(*error). Calls
/// no user code, so the client may call it at once on any thread.
template <class T>
client::request_callback<T> fulfil(std::shared_ptr<std::promise<T>> promise) {
  return [promise = std::move(promise)](const T* result, const client_error* error) {
    if (result)
      promise->set_value(*result);
    else
      promise->set_exception(std::make_exception_ptr(request_error(*error)));
  };
}

}  // namespace rtev::detail
