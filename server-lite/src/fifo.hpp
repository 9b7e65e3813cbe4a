#pragma once
// fifo: a first-in first-out queue on one std::vector. Every connection holds queues that are
// empty most of the time, and an empty std::deque already holds 500-odd bytes (its map and
// first node); an empty fifo holds none. Popping advances an index; the consumed front is
// dropped once it is half of the storage, so each item is moved O(1) times on average.
//
// References from front() stay valid until the next push_back or pop_front (not as long as a
// deque's): read what you need from front() before popping or pushing.

#include <cstddef>
#include <utility>
#include <vector>

namespace rtev::server_lite {

template <class T>
class fifo {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }

  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }

  void push_back(T item) { items_.push_back(std::move(item)); }

  void pop_front() {
    items_[head_] = T{};  // release what it holds now, not at the next compaction
    ++head_;
    if (head_ == items_.size()) {
      // Drained: keep a small buffer for the next burst, give a big one back.
      if (items_.capacity() > keep_capacity)
        std::vector<T>().swap(items_);
      else
        items_.clear();
      head_ = 0;
    } else if (head_ >= keep_capacity && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const { return items_.end(); }

  void swap(fifo& other) noexcept {
    items_.swap(other.items_);
    std::swap(head_, other.head_);
  }

 private:
  static constexpr std::size_t keep_capacity = 64;
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace rtev::server_lite
