// embedded_engine: seqs counted in memory from the store's last one, events committed by the
// SQLite store's writer, results and the feed handed back on the service thread.

#include "embedded_engine.hpp"

namespace rtev::server_lite {

embedded_engine::embedded_engine(history_store& store, post_fn post)
    : store_(store),
      post_(std::move(post)),
      next_seq_(store.last_seq_at_open() + 1),
      reader_(std::make_unique<history_reader>(store)) {}

embedded_engine::~embedded_engine() = default;

void embedded_engine::append(std::vector<new_event> events, append_done done) {
  std::vector<stored_event> batch;
  std::vector<event_ptr> made;
  batch.reserve(events.size());
  made.reserve(events.size());
  for (new_event& e : events) {
    auto ev = stored_shared_event(e, next_seq_++);
    stored_event se;
    se.seq = ev->seq;
    se.id = std::move(e.id);
    se.type = std::move(e.type);
    se.room = std::move(e.room);
    se.time_us = e.time_us;
    se.json = ev->json;
    batch.push_back(std::move(se));
    made.push_back(std::move(ev));
  }
  // The completion runs on the store's writer thread: hand it to the service thread.
  store_.append(std::move(batch), [this, made = std::move(made), done = std::move(done)](
                                      std::vector<history_store::append_result> results) mutable {
    post_([this, made = std::move(made), results = std::move(results),
           done = std::move(done)]() mutable {
      committed(std::move(made), std::move(results), done);
    });
  });
}

void embedded_engine::committed(std::vector<event_ptr> events,
                                std::vector<history_store::append_result> results,
                                const append_done& done) {
  std::vector<append_outcome> out(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& r =
        i < results.size() ? results[i] : history_store::append_result{false, "lost", {}};
    append_outcome& o = out[i];
    o.ok = r.ok;
    o.error = r.error;
    if (!r.ok) continue;
    o.seq = r.duplicate_of ? *r.duplicate_of : events[i]->seq;
    o.duplicate = r.duplicate_of.has_value();
    if (!o.duplicate && feed_) feed_(events[i]);
  }
  if (done) done(std::move(out));
}

void embedded_engine::query(history_query q, query_done done) {
  reader_->submit(std::move(q), [this, done = std::move(done)](history_page&& page,
                                                               std::string&& error) mutable {
    post_([done = std::move(done), page = std::move(page), error = std::move(error)]() mutable {
      done(std::move(page), std::move(error));
    });
  });
}

}  // namespace rtev::server_lite
