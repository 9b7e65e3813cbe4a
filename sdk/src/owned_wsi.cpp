#include "owned_wsi.hpp"

#include <algorithm>

namespace rtev::detail {

void owned_wsi::release() {
  lws* w = wsi_;
  const bool requested = requested_;
  wsi_ = nullptr;
  requested_ = false;
  if (!w) return;
  lws_set_opaque_user_data(w, nullptr);  // its callbacks are nobody's from now on
  if (std::find(callback_stack_.begin(), callback_stack_.end(), w) != callback_stack_.end())
    doomed_.push_back(w);
  else if (requested)
    lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  else
    lws_set_timeout(w, static_cast<pending_timeout>(1), LWS_TO_KILL_SYNC);
}

int owned_wsi::leave(lws* w, int rc, lws_callback_reasons reason) {
  callback_stack_.pop_back();
  auto it = std::find(doomed_.begin(), doomed_.end(), w);
  if (it == doomed_.end()) return rc;
  if (std::find(callback_stack_.begin(), callback_stack_.end(), w) == callback_stack_.end())
    doomed_.erase(it);
  const bool last = reason == LWS_CALLBACK_CLIENT_CLOSED ||
                    reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR ||
                    reason == LWS_CALLBACK_CLOSED_CLIENT_HTTP;
  return last ? 0 : -1;
}

}  // namespace rtev::detail
