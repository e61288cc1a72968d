// Attention products: per-(batch, head) GEMMs without autograd, batched matmul with it.
#include "models/attention_core.h"

#include <ATen/Parallel.h>
#include "core/torch_api.h"

#include "core/threads.h"

namespace cs::models {

namespace {
// Below this many multiply-adds one batched call is cheaper than handing heads to threads.
constexpr int64_t kPerHeadMinWork = 1 << 22;

bool useBatchedMatmul(const at::Tensor& a, const at::Tensor& b, int64_t work) {
  // On a GPU one batched kernel beats many small launches.
  return !a.is_cpu() || work < kPerHeadMinWork ||
         (at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad()));
}

// Broadcasts key/value heads [B, S, Hkv, E] to query heads as [B, H, S, E].
at::Tensor expandHeads(const at::Tensor& kv, int64_t heads, const std::vector<int>& map) {
  const auto B = kv.size(0), S = kv.size(1), Hkv = kv.size(2), E = kv.size(3);
  auto t = kv.transpose(1, 2);
  if (!map.empty()) {
    const auto index = at::tensor(std::vector<int64_t>(map.begin(), map.end()),
                                  at::TensorOptions(kv.device()).dtype(at::kLong));
    return t.index_select(1, index);
  }
  if (Hkv == heads) return t;
  return t.unsqueeze(2).expand({B, Hkv, heads / Hkv, S, E}).reshape({B, heads, S, E});
}

// The key/value head of query head h.
int64_t kvHead(int64_t h, int64_t heads, int64_t kvHeads, const std::vector<int>& map) {
  return map.empty() ? h / (heads / kvHeads) : map[static_cast<std::size_t>(h)];
}

// Runs fn(b, h) for every pair on libtorch's threads with a single-threaded BLAS.
template <typename Fn>
void forEachHead(int64_t batch, int64_t heads, const Fn& fn) {
  ScopedBlasThreads single(1);
  at::parallel_for(0, batch * heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i / heads, i % heads);
  });
}
}  // namespace

at::Tensor attentionScores(const at::Tensor& q, const at::Tensor& k, double scale,
                           const std::vector<int>& kvHeadOfQuery) {
  const auto B = q.size(0), T = q.size(1), H = q.size(2), S = k.size(1), Hkv = k.size(2);
  if (useBatchedMatmul(q, k, B * H * T * S * q.size(3))) {
    return at::matmul(q.transpose(1, 2), expandHeads(k, H, kvHeadOfQuery).transpose(-1, -2))
        .mul(scale);
  }
  auto scores = at::empty({B, H, T, S}, q.options());
  forEachHead(B, H, [&](int64_t b, int64_t h) {
    auto out = scores[b][h];
    at::addmm_out(out, out, q[b].select(1, h), k[b].select(1, kvHead(h, H, Hkv, kvHeadOfQuery)).t(),
                  /*beta=*/0, /*alpha=*/scale);
  });
  return scores;
}

at::Tensor attentionMix(const at::Tensor& pattern, const at::Tensor& v,
                        const std::vector<int>& kvHeadOfQuery) {
  const auto B = pattern.size(0), H = pattern.size(1), T = pattern.size(2), E = v.size(3);
  const auto Hkv = v.size(2);
  if (useBatchedMatmul(pattern, v, B * H * T * pattern.size(3) * E)) {
    return at::matmul(pattern, expandHeads(v, H, kvHeadOfQuery)).transpose(1, 2);
  }
  // Each head writes its [T, E] block straight into the [B, T, H, E] layout (row stride H E),
  // so the W_O product that follows needs no copy.
  auto z = at::empty({B, T, H, E}, v.options());
  forEachHead(B, H, [&](int64_t b, int64_t h) {
    auto out = z[b].select(1, h);
    at::mm_out(out, pattern[b][h], v[b].select(1, kvHead(h, H, Hkv, kvHeadOfQuery)));
  });
  return z;
}

}  // namespace cs::models
