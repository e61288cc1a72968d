// The writer thread owns all HDF5 writes of a recording; the compute thread only queues.
#include "hooks/store_write_queue.h"

namespace cs::hooks {

StoreWriteQueue::StoreWriteQueue(data::ActivationStoreWriter& writer, std::int64_t maxQueuedBytes,
                                 WrittenFn onWritten)
    : m_writer(writer), m_maxBytes(maxQueuedBytes), m_onWritten(std::move(onWritten)) {
  m_thread = std::thread([this] { run(); });
}

StoreWriteQueue::~StoreWriteQueue() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_changed.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

void StoreWriteQueue::push(data::StoreBatch batch) {
  const auto bytes = batch.bytes();
  std::unique_lock lock(m_mutex);
  m_changed.wait(lock,
                 [&] { return m_error || m_queue.empty() || m_queuedBytes + bytes <= m_maxBytes; });
  if (m_error) std::rethrow_exception(m_error);
  m_queuedBytes += bytes;
  m_queue.push_back(std::move(batch));
  lock.unlock();
  m_changed.notify_all();
}

void StoreWriteQueue::finish() {
  std::unique_lock lock(m_mutex);
  m_changed.wait(lock, [&] { return m_error || (m_queue.empty() && !m_busy); });
  if (m_error) std::rethrow_exception(m_error);
}

void StoreWriteQueue::run() {
  std::unique_lock lock(m_mutex);
  while (true) {
    m_changed.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
    if (m_queue.empty() || m_error) {
      if (m_stopping) return;
      continue;
    }
    data::StoreBatch batch = std::move(m_queue.front());
    m_queue.pop_front();
    m_busy = true;
    lock.unlock();
    const auto bytes = batch.bytes();
    const auto batchRows = batch.rows();
    std::exception_ptr error;
    try {
      m_writer.write(batch);
    } catch (...) {
      error = std::current_exception();
    }
    batch = {};  // free the memory before anyone waits for room
    lock.lock();
    m_busy = false;
    m_queuedBytes -= bytes;
    if (error) {
      m_error = error;
      m_queue.clear();
      m_queuedBytes = 0;
    } else {
      m_rowsWritten += batchRows;
      m_bytesWritten += bytes;
    }
    const auto rows = m_rowsWritten, written = m_bytesWritten;
    lock.unlock();
    m_changed.notify_all();
    if (!error && m_onWritten) m_onWritten(rows, written);
    lock.lock();
  }
}

}  // namespace cs::hooks
