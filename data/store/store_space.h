// Room on disk for the next batch of an activation store. Checked before a batch is written,
// so that a full disk (or a file-size limit) stops a recording between batches, where the store
// is consistent and keeps every finished batch, instead of inside HDF5's flush, where a failed
// write leaves the file shorter than its own header says.
#pragma once

#include <cstdint>
#include <filesystem>

namespace cs::data {

/// Bytes a store must be able to add for its datasets to grow from `rowsBefore` to `rowsAfter`
/// rows: every chunk that starts in that range is allocated whole (uncompressed chunks are;
/// compressed ones take at most that), plus a margin for HDF5's metadata.
std::int64_t bytesToGrow(std::int64_t rowsBefore, std::int64_t rowsAfter, std::int64_t rowsPerChunk,
                         std::int64_t chunkBytes);
/// The metadata margin bytesToGrow adds once per batch (chunk index, object headers).
inline constexpr std::int64_t kMetadataMargin = std::int64_t{256} << 10;

/// IoError saying that the disk is full, how much is free and needed, and that the store keeps
/// `rowsKept` examples (continue with --resume), when `path` (now `fileEnd` bytes long, counting
/// space HDF5 has allocated but not yet written) cannot grow by `bytes`: the free space of its
/// file system for unprivileged users, and this process's file-size limit (RLIMIT_FSIZE).
void requireRoomToGrow(const std::filesystem::path& path, std::int64_t fileEnd, std::int64_t bytes,
                       std::int64_t rowsKept);

}  // namespace cs::data
