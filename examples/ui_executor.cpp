// Handlers on the app's own thread: client_options::executor posts every handler and
// callback to a queue that the app's main ("UI") thread runs, in order — the SDK's network
// thread never runs app code. The UI thread may even wait for a future inside a handler.
// usage: example_ui_executor URL ROOM — publishes two messages, prints what the UI thread saw.
#include <rtev/client.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

// The app's event queue (what a UI toolkit's "post to main thread" provides).
class ui_queue {
 public:
  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
  void run_until_quit() {
    while (!quit_) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !tasks_.empty(); });
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  void quit() { quit_ = true; }  // called from a task, on the UI thread

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool quit_ = false;
};

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " URL ROOM\n";
    return 2;
  }
  const std::string room = argv[2];
  ui_queue ui;
  const auto ui_thread = std::this_thread::get_id();
  rtev::client_options opt;
  opt.url = argv[1];
  opt.token = "ui";
  opt.rooms = {room};
  opt.executor = [&ui](std::function<void()> task) { ui.post(std::move(task)); };
  rtev::client client(opt);

  int shown = 0;
  bool off_ui_thread = false;
  auto joined = client.on_joined([&](const rtev::join_info& j) {
    if (j.room != room) return;  // (the automatic user:ui room is joined too)
    std::cout << "joined " << j.room << std::endl;
    client.publish(room, "chat", {{"text", "first"}},
                   [](const rtev::publish_ack*, const rtev::client_error*) {});
  });
  auto chat = client.on("chat", [&](const rtev::event& e) {
    off_ui_thread |= std::this_thread::get_id() != ui_thread;
    const std::string text = e.data.value("text", "");
    std::cout << "ui shows: " << text << " (seq " << e.seq.value_or(0) << ")" << std::endl;
    if (text == "first") {
      // On the UI thread (not the SDK's), waiting for an acknowledgement is allowed.
      const rtev::publish_ack ack = client.publish(room, "chat", {{"text", "second"}}).get();
      std::cout << "second acknowledged as seq " << ack.seq << std::endl;
    }
    if (++shown == 2) ui.quit();
  });
  auto states = client.on_state([&](const rtev::state_info& s) {
    std::cout << "state " << rtev::to_string(s.state) << std::endl;
    if (s.state == rtev::client_state::closed) ui.quit();
  });
  client.start();       // the network runs on the SDK's thread…
  ui.run_until_quit();  // …and every handler here, on the main thread
  client.stop();
  if (off_ui_thread) std::cerr << "a handler ran off the UI thread\n";
  return shown == 2 && !off_ui_thread ? 0 : 1;
}
