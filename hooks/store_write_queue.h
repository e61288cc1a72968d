// Hands finished batches to a writer thread through a queue bounded in bytes, so memory stays
// flat however many examples are recorded: when the queue is full, push() waits.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "data/store/activation_store_writer.h"

namespace cs::hooks {

class StoreWriteQueue {
 public:
  /// Called on the writer thread after each batch is committed: rows and bytes written so far
  /// by this queue.
  using WrittenFn = std::function<void(std::int64_t rows, std::int64_t bytes)>;

  StoreWriteQueue(data::ActivationStoreWriter& writer, std::int64_t maxQueuedBytes,
                  WrittenFn onWritten = {});
  /// Stops after the batches already queued (errors are dropped: call finish() to see them).
  ~StoreWriteQueue();
  StoreWriteQueue(const StoreWriteQueue&) = delete;
  StoreWriteQueue& operator=(const StoreWriteQueue&) = delete;

  /// Queues a batch, waiting while the queue holds maxQueuedBytes (a batch larger than the
  /// bound still goes through, alone). Rethrows the writer's error if it has failed.
  void push(data::StoreBatch batch);

  /// Waits until every queued batch is written; rethrows the writer's error, if any.
  void finish();

 private:
  void run();

  data::ActivationStoreWriter& m_writer;
  const std::int64_t m_maxBytes;
  WrittenFn m_onWritten;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<data::StoreBatch> m_queue;
  std::int64_t m_queuedBytes = 0;
  std::int64_t m_rowsWritten = 0, m_bytesWritten = 0;
  bool m_busy = false;
  bool m_stopping = false;
  std::exception_ptr m_error;
  std::thread m_thread;
};

}  // namespace cs::hooks
