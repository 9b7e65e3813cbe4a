#pragma once
// embedded_engine: the event_engine of a single node — seqs counted here, events stored in the
// SQLite history_store, history read by a history_reader off the service thread. What every
// `rtev serve` without --broker runs on.
//
// The store commits on its writer thread; the engine posts each batch's results to the service
// thread, where it feeds the stored events (in seq order: batches commit in the order they
// were appended) and then answers the publisher.

#include <memory>

#include "event_engine.hpp"
#include "history_reader.hpp"

namespace rtev::server_lite {

class embedded_engine final : public event_engine {
 public:
  using post_fn = std::function<void(std::function<void()>)>;

  /// `store` outlives the engine; `post` runs a function on the service thread.
  embedded_engine(history_store& store, post_fn post);
  ~embedded_engine() override;

  const char* name() const override { return "sqlite"; }
  std::string epoch() const override { return store_.epoch(); }
  std::uint64_t last_seq_at_start() const override { return store_.last_seq_at_open(); }
  void set_feed(feed_fn feed) override { feed_ = std::move(feed); }
  void append(std::vector<new_event> events, append_done done) override;
  void query(history_query q, query_done done) override;
  std::vector<std::pair<std::string, std::uint64_t>> ids_since(
      std::int64_t since_us) const override {
    return store_.ids_since(since_us);
  }
  store_stats stats() const override { return store_.stats(); }
  store_health health() const override { return store_.health(); }
  void flush() override { store_.flush(); }
  void flush_reads() override { reader_->flush(); }

 private:
  void committed(std::vector<event_ptr> events, std::vector<history_store::append_result> results,
                 const append_done& done);

  history_store& store_;
  post_fn post_;
  feed_fn feed_;
  std::uint64_t next_seq_;
  // Last: destroyed first, so no page is read for an engine that is going away.
  std::unique_ptr<history_reader> reader_;
};

}  // namespace rtev::server_lite
