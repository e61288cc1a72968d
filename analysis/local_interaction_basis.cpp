// The Local Interaction Basis: node-layer activations, Grams, the Jacobian basis from the last
// node layer to the first, the squared-formula edges and the node-ablation curves.
#include "analysis/local_interaction_basis.h"

#include "core/torch_api.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <random>

#include "analysis/lib_edge_ablation.h"
#include "analysis/lib_sections.h"
#include "core/error.h"

namespace cs::analysis {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::MatrixXd toEigen(const at::Tensor& t) {
  const auto c = t.to(at::kCPU, at::kDouble).contiguous();
  return Eigen::Map<const RowMatrix>(c.data_ptr<double>(), c.size(0), c.size(1));
}

at::Tensor toTensor(const Eigen::MatrixXd& m) {
  RowMatrix r = m;
  return at::from_blob(r.data(), {r.rows(), r.cols()}, at::TensorOptions().dtype(at::kDouble))
      .clone();
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Symmetric eigen-decomposition, descending, tiny negative eigenvalues made positive.
void eigenDescending(const Eigen::MatrixXd& m, Eigen::VectorXd& values, Eigen::MatrixXd& vectors) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(0.5 * (m + m.transpose()));
  if (solver.info() != Eigen::Success) throw NumericError("eigen-decomposition did not converge");
  values = solver.eigenvalues().reverse().cwiseAbs();
  vectors = solver.eigenvectors().rowwise().reverse();
}

// The rows of the dataset and the node layers' activations on them.
struct Activations {
  std::vector<at::Tensor> f;  // per node layer [N, P, n], float64
  at::Tensor targets;         // [N] at the output position
  std::int64_t rows = 0;
};

class LibRun {
 public:
  LibRun(models::Transformer& model, const data::Dataset& dataset, const LibOptions& options,
         Progress& progress)
      : m_model(model),
        m_dataset(dataset),
        m_o(options),
        m_progress(progress),
        m_sections(model, options.outputPosition),
        m_nodes(quadratureNodes(options.integration, options.integrationSteps)),
        m_random(options.seed) {}

  LibResult run();

 private:
  void collect();
  void readRecordedGrams();
  void computeBasis(std::size_t layer);
  void computeFinalBasis();
  /// J [g, B, P_in, width] per group of g output directions (t, i) of the next node layer,
  /// first = the group's first direction index t r + i (source r + i with stochastic
  /// sources), r = the next layer's directions.
  /// positionwise: the group's directions are output directions i seeded at every position at
  /// once (a section without attention), and J holds each position's own Jacobian.
  using DirectionFn = std::function<void(const at::Tensor& J, std::int64_t first, std::int64_t r,
                                         bool positionwise)>;
  /// For every output direction of the next node layer (in the basis nextC), sum_k w_k
  /// d out_hat / d (alpha_k x) at the rows x, where the section's input is toInput(alpha_k x).
  /// With stochastic sources the directions are (source, i) and J is scaled by 1/sqrt(R), so
  /// that sums of products of J average over the sources.
  void forEachDirection(std::size_t layer, const at::Tensor& x,
                        const std::function<at::Tensor(const at::Tensor&)>& toInput,
                        const at::Tensor& nextC, const DirectionFn& fn);
  Eigen::MatrixXd jacobianGram(std::size_t layer);
  /// The "(1-0)*alpha" matrices M' and Lambda' [n, n] of ALGORITHMS.md section 9 step 4.
  void alphaGrams(std::size_t layer, Eigen::MatrixXd& Mprime, Eigen::MatrixXd& Lprime);
  /// E between `layer` and the next in the bases (C, Cplus) and nextC.
  Eigen::MatrixXd edgeMatrix(std::size_t layer, const at::Tensor& C, const at::Tensor& Cplus,
                             const at::Tensor& nextC);
  void edgeAblation();
  at::Tensor randomSigns(std::int64_t R, std::int64_t B, std::int64_t P);
  void ablationCurves(std::size_t layer);
  double truncation(double largest) const { return m_o.relativeTau ? m_o.tau * largest : m_o.tau; }
  bool hasConstant(std::size_t layer) const { return m_index[layer] != m_sections.outputIndex(); }
  // f-hat of the next node layer of `layer` in the basis nextC, from the folded activations u of
  // `layer`.
  at::Tensor nextHat(std::size_t layer, const at::Tensor& u, const at::Tensor& nextC) const {
    return at::matmul(m_sections.run(m_index[layer], m_index[layer + 1], u), nextC);
  }

  models::Transformer& m_model;
  const data::Dataset& m_dataset;
  LibOptions m_o;
  Progress& m_progress;
  FoldedSections m_sections;
  QuadratureNodes m_nodes;
  std::mt19937_64 m_random;  // the stochastic sources
  std::vector<int> m_index;
  Activations m_a;
  std::vector<Eigen::MatrixXd> m_gram;
  std::vector<Eigen::VectorXd> m_mean;
  std::vector<at::Tensor> m_C, m_Cplus;  // as tensors for the passes
  LibResult m_r;
};

void LibRun::collect() {
  const auto rows = m_o.limit > 0 ? std::min(m_o.limit, m_dataset.size()) : m_dataset.size();
  if (rows <= 0) throw ConfigError("LIB: the dataset has no rows");
  std::vector<std::vector<at::Tensor>> parts(m_index.size());
  std::vector<at::Tensor> targets;
  torch::NoGradGuard noGrad;
  for (std::int64_t begin = 0; begin < rows; begin += m_o.batchSize) {
    m_progress.check();
    const auto batch = m_dataset.batch(begin, std::min(m_o.batchSize, rows - begin));
    if (!batch.targets.defined()) {
      throw ConfigError("LIB needs a dataset with targets (" + m_dataset.describe() + ")");
    }
    if (batch.scorePositions.defined()) {
      const auto T = batch.tokens.size(1);
      const auto expected = m_o.outputPosition < 0 ? T - 1 : m_o.outputPosition;
      if (batch.scorePositions.ne(expected).any().item<bool>()) {
        throw ConfigError("LIB scores one output position (" + std::to_string(expected) +
                          "); this dataset scores others");
      }
    }
    targets.push_back(batch.targets.to(at::kCPU, at::kLong));
    const models::ModelInput input{batch.tokens, batch.attentionMask, {}, batch.pixels};
    auto u = m_sections.embed(m_model, input);
    int at = 0;
    for (std::size_t i = 0; i < m_index.size(); ++i) {
      u = m_sections.run(at, m_index[i], u);
      at = m_index[i];
      parts[i].push_back(u);
    }
  }
  for (auto& p : parts) m_a.f.push_back(at::cat(p, 0));
  m_a.targets = at::cat(targets, 0);
  m_a.rows = rows;
  m_r.examples = rows;
  m_r.positions = m_a.f.front().size(1);
  const auto logits = m_sections.run(m_index.back(), m_sections.outputIndex(), m_a.f.back());
  const auto base = scoreLogits(logits, m_a.targets);
  m_r.baseAccuracy = base.accuracy;
  m_r.baseLoss = base.loss;
}

void LibRun::readRecordedGrams() {
  m_progress.setStage("LIB: Gram matrices from the recording");
  std::vector<RecordedNodeLayer> layers;
  for (std::size_t l = 0; l < m_index.size(); ++l) {
    layers.push_back({m_r.layers[l].name, m_r.layers[l].width, hasConstant(l), m_r.positions,
                      m_o.outputPosition});
  }
  auto grams = gramsFromRecording(*m_o.gramRecording, layers, m_progress);
  m_gram = std::move(grams.gram);
  m_mean = std::move(grams.mean);
  m_r.gramSource = m_o.gramRecording->store.string();
  m_r.gramExamples = grams.examples;
}

void LibRun::computeFinalBasis() {
  const auto K = m_index.size() - 1;
  auto& out = m_r.layers[K];
  const auto& G = m_gram[K];
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  eigenDescending(G, values, vectors);
  out.gramEigenvalues = values;
  if (m_o.rotateFinal) {
    const auto tau = truncation(values.size() ? values[0] : 0.0);
    Eigen::Index kept = 0;
    while (kept < values.size() && values[kept] > tau) ++kept;
    out.C = vectors.leftCols(kept);
    out.Cplus = out.C.transpose();
    out.lambda = values.head(kept);
  } else {
    out.C = Eigen::MatrixXd::Identity(G.rows(), G.cols());
    out.Cplus = out.C;
    out.lambda = G.diagonal();
  }
}

at::Tensor LibRun::randomSigns(std::int64_t R, std::int64_t B, std::int64_t P) {
  std::vector<double> signs(static_cast<std::size_t>(R * B * P));
  std::bernoulli_distribution coin(0.5);
  for (auto& s : signs) s = coin(m_random) ? 1.0 : -1.0;
  return at::tensor(signs, at::TensorOptions().dtype(at::kDouble)).view({R, B, P});
}

void LibRun::forEachDirection(std::size_t layer, const at::Tensor& x,
                              const std::function<at::Tensor(const at::Tensor&)>& toInput,
                              const at::Tensor& nextC, const DirectionFn& fn) {
  const auto B = x.size(0);
  std::int64_t Pout = 0;
  {
    torch::NoGradGuard noGrad;
    Pout = nextHat(layer, toInput(x.narrow(0, 0, 1)), nextC).size(1);
  }
  const auto r = nextC.size(1);
  // A section without attention maps each position on its own: seeding direction i at every
  // output position at once gives each position's own Jacobian without cross terms.
  const bool positionwise =
      m_o.positionwiseShortcut && m_sections.positionwise(m_index[layer], m_index[layer + 1]);
  // Stochastic sources: seed sum_t phi_t (t, i) with random signs phi; E[phi_t phi_t'] = delta
  // makes the products of these Jacobians unbiased estimates of the sums over t.
  const auto R = positionwise ? 0 : m_o.stochasticSources;
  const auto signs = R > 0 ? randomSigns(R, B, Pout) : at::Tensor();  // [R, B, P_out]
  const auto directions = positionwise ? r : (R > 0 ? R : Pout) * r;
  // Several directions per backward pass: the rows are repeated once per direction and each copy
  // seeds its own output direction, so one forward and one backward serve them all.
  const auto group =
      std::clamp<std::int64_t>(m_o.rowsPerPass / std::max<std::int64_t>(B, 1), 1, directions);
  for (std::int64_t first = 0; first < directions; first += group) {
    m_progress.check();
    const auto g = std::min(group, directions - first);
    at::Tensor J;
    for (std::size_t k = 0; k < m_nodes.alphas.size(); ++k) {
      const auto leaf = (m_nodes.alphas[k] * x).repeat({g, 1, 1}).detach().requires_grad_(true);
      const auto out = nextHat(layer, toInput(leaf), nextC);  // [g B, Pout, r]
      auto seed = at::zeros({g, B, Pout, r}, out.options());
      for (std::int64_t j = 0; j < g; ++j) {
        const auto d = first + j;
        if (positionwise) {
          seed[j].select(2, d).fill_(1.0);
        } else if (R > 0) {
          seed[j].select(2, d % r).copy_(signs[d / r]);
        } else {
          seed[j].select(1, d / r).select(1, d % r).fill_(1.0);
        }
      }
      const auto grad = torch::autograd::grad({out}, {leaf}, {seed.view(out.sizes())})[0].view(
          {g, B, x.size(1), x.size(2)});
      J = J.defined() ? J + m_nodes.weights[k] * grad : m_nodes.weights[k] * grad;
    }
    if (R > 0) J = J / std::sqrt(static_cast<double>(R));
    fn(J, first, positionwise ? 1 : r, positionwise);
  }
}

Eigen::MatrixXd LibRun::jacobianGram(std::size_t layer) {
  const auto& f = m_a.f[layer];
  const auto N = f.size(0), Pin = f.size(1), n = f.size(2);
  at::Tensor Mprime = at::zeros({n, n}, at::TensorOptions().dtype(at::kDouble));
  for (std::int64_t begin = 0; begin < N; begin += m_o.batchSize) {
    const auto x = f.narrow(0, begin, std::min(m_o.batchSize, N - begin));
    forEachDirection(
        layer, x, [](const at::Tensor& u) { return u; }, m_C[layer + 1],
        [&](const at::Tensor& J, std::int64_t, std::int64_t, bool) {
          const auto flat = J.reshape({-1, n});
          Mprime.addmm_(flat.t(), flat);
        });
  }
  return toEigen(Mprime / static_cast<double>(N * Pin));
}

void LibRun::alphaGrams(std::size_t layer, Eigen::MatrixXd& Mprime, Eigen::MatrixXd& Lprime) {
  const auto& f = m_a.f[layer];
  const auto N = f.size(0), Pin = f.size(1), n = f.size(2);
  const auto& nextC = m_C[layer + 1];
  at::Tensor M = at::zeros({n, n}, at::TensorOptions().dtype(at::kDouble));
  at::Tensor L = at::zeros_like(M);
  for (std::int64_t begin = 0; begin < N; begin += m_o.batchSize) {
    m_progress.check();
    const auto x = f.narrow(0, begin, std::min(m_o.batchSize, N - begin));
    at::Tensor y;  // f_hat of the next node layer at the data point itself: the fixed "1" end
    {
      torch::NoGradGuard noGrad;
      y = nextHat(layer, x, nextC);
    }
    // g_s = sum_k w_k grad_{u_s} <f_hat(u), y> at u = alpha_k x: one backward pass seeded by y.
    at::Tensor g;
    for (std::size_t k = 0; k < m_nodes.alphas.size(); ++k) {
      const auto leaf = (m_nodes.alphas[k] * x).detach().requires_grad_(true);
      const auto out = nextHat(layer, leaf, nextC);
      const auto grad = torch::autograd::grad({out}, {leaf}, {y})[0];
      g = g.defined() ? g + m_nodes.weights[k] * grad : m_nodes.weights[k] * grad;
    }
    const auto gFlat = g.reshape({-1, n});
    M.addmm_(gFlat.t(), gFlat);
    L.addmm_(gFlat.t(), x.reshape({-1, n}));
  }
  Mprime = toEigen(M / static_cast<double>(N * Pin));
  Lprime = toEigen(L / static_cast<double>(N * Pin));
}

void LibRun::computeBasis(std::size_t layer) {
  const auto start = std::chrono::steady_clock::now();
  auto& out = m_r.layers[layer];
  const auto& G = m_gram[layer];
  const auto n = G.rows();
  const bool centre = m_o.centre && hasConstant(layer);
  // Centring: f S with (f S)_j = f_j - mu_j c for every non-constant j; S^-1 adds mu back.
  Eigen::MatrixXd S = Eigen::MatrixXd::Identity(n, n), Sinv = S;
  if (centre) {
    S.row(n - 1).head(n - 1) = -m_mean[layer].head(n - 1).transpose();
    Sinv.row(n - 1).head(n - 1) = m_mean[layer].head(n - 1).transpose();
  }
  const Eigen::MatrixXd Gs = S.transpose() * G * S;
  Eigen::VectorXd d;
  Eigen::MatrixXd U;
  eigenDescending(G, out.gramEigenvalues, U);
  eigenDescending(Gs, d, U);
  if (centre) {
    // The constant coordinate is uncorrelated with the centred ones: its eigenvector goes first.
    Eigen::Index constant = 0;
    U.row(n - 1).cwiseAbs().maxCoeff(&constant);
    if (constant != 0) {
      Eigen::VectorXd u = U.col(constant);
      const double dc = d[constant];
      for (Eigen::Index j = constant; j > 0; --j) {
        U.col(j) = U.col(j - 1);
        d[j] = d[j - 1];
      }
      U.col(0) = u;
      d[0] = dc;
    }
  }
  const double tau = truncation(d.maxCoeff());
  std::vector<Eigen::Index> keep;
  for (Eigen::Index j = 0; j < d.size(); ++j) {
    if (d[j] > tau || (centre && j == 0)) keep.push_back(j);
  }
  const auto r = static_cast<Eigen::Index>(keep.size());
  Eigen::MatrixXd R(n, r), Rplus(r, n);
  for (Eigen::Index j = 0; j < r; ++j) {
    const auto col = keep[j];
    R.col(j) = S * U.col(col) / std::sqrt(d[col]);
    Rplus.row(j) = std::sqrt(d[col]) * U.col(col).transpose() * Sinv;
  }
  const bool alpha = m_o.basis == LibBasis::OneZeroAlpha;
  Eigen::MatrixXd Mprime, Lprime;
  if (alpha) {
    alphaGrams(layer, Mprime, Lprime);
  } else {
    Mprime = jacobianGram(layer);
  }
  out.jacobianGram = Mprime;
  const Eigen::MatrixXd M = Rplus * Mprime * Rplus.transpose();
  Eigen::VectorXd lambda(r);
  Eigen::MatrixXd V = Eigen::MatrixXd::Zero(r, r);
  const Eigen::Index masked = centre ? 1 : 0;  // the constant direction stays first, unrotated
  if (masked == 1) {
    V(0, 0) = 1.0;
    lambda[0] = M(0, 0);
  }
  if (r > masked) {
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    eigenDescending(M.bottomRightCorner(r - masked, r - masked), values, vectors);
    V.bottomRightCorner(r - masked, r - masked) = vectors;
    lambda.tail(r - masked) = values;
  }
  if (alpha) {
    // Lambda = |diag(V^T R+ Lambda' R V)|, which need not follow M's order: the directions are
    // sorted by it (the masked constant direction stays first).
    const Eigen::MatrixXd A = V.transpose() * Rplus * Lprime * R * V;
    lambda = A.diagonal().cwiseAbs();
    std::vector<Eigen::Index> order(static_cast<std::size_t>(r));
    for (Eigen::Index j = 0; j < r; ++j) order[j] = j;
    std::stable_sort(order.begin() + masked, order.end(),
                     [&](Eigen::Index a, Eigen::Index b) { return lambda[a] > lambda[b]; });
    Eigen::MatrixXd sortedV(r, r);
    Eigen::VectorXd sortedLambda(r);
    for (Eigen::Index j = 0; j < r; ++j) {
      sortedV.col(j) = V.col(order[j]);
      sortedLambda[j] = lambda[order[j]];
    }
    V = sortedV;
    lambda = sortedLambda;
  }
  const double lambdaTau = truncation(lambda.size() ? lambda.maxCoeff() : 0.0);
  std::vector<Eigen::Index> kept;
  for (Eigen::Index j = 0; j < r; ++j) {
    if (j < masked || lambda[j] > lambdaTau) kept.push_back(j);
  }
  const auto rk = static_cast<Eigen::Index>(kept.size());
  out.C.resize(n, rk);
  out.Cplus.resize(rk, n);
  out.lambda.resize(rk);
  for (Eigen::Index j = 0; j < rk; ++j) {
    const auto col = kept[j];
    const double l = lambda[col];
    out.lambda[j] = l;
    out.C.col(j) = R * V.col(col) * std::sqrt(l);
    out.Cplus.row(j) = V.col(col).transpose() * Rplus / std::sqrt(l);
  }
  out.seconds = secondsSince(start);
}

Eigen::MatrixXd LibRun::edgeMatrix(std::size_t layer, const at::Tensor& C, const at::Tensor& Cplus,
                                   const at::Tensor& nextC) {
  const auto& f = m_a.f[layer];
  const auto N = f.size(0), Pin = f.size(1);
  at::Tensor E = at::zeros({nextC.size(1), C.size(1)}, f.options());
  for (std::int64_t begin = 0; begin < N; begin += m_o.batchSize) {
    const auto hat = at::matmul(f.narrow(0, begin, std::min(m_o.batchSize, N - begin)), C);
    forEachDirection(
        layer, hat, [&](const at::Tensor& u) { return at::matmul(u, Cplus); }, nextC,
        [&](const at::Tensor& J, std::int64_t first, std::int64_t r, bool positionwise) {
          const auto terms = J * hat.unsqueeze(0);  // [g, B, P_in, r_l]
          // Per direction (t, i) and row: the sum over input positions s, squared. A
          // position-wise group holds every t at once, each only at s = t.
          const auto squares =
              positionwise ? terms.pow(2).sum(at::IntArrayRef{1, 2}) : terms.sum(2).pow(2).sum(1);
          const auto rows = positionwise
                                ? at::arange(first, first + J.size(0), at::kLong)
                                : at::arange(first, first + J.size(0), at::kLong).remainder(r);
          E.index_add_(0, rows, squares);
        });
  }
  return toEigen(E / static_cast<double>(N * Pin));
}

void LibRun::ablationCurves(std::size_t layer) {
  torch::NoGradGuard noGrad;
  const auto& f = m_a.f[layer];
  const auto n = f.size(2);
  const auto flat = f.reshape({-1, n});
  const auto finish = [&](const at::Tensor& projected) {
    return scoreLogits(
        m_sections.run(m_index[layer], m_sections.outputIndex(), projected.reshape(f.sizes())),
        m_a.targets);
  };
  const auto trace = [&](const char* basis, const at::Tensor& C, const at::Tensor& Cplus) {
    LibAblationCurve curve;
    curve.layer = m_r.layers[layer].name;
    curve.basis = basis;
    const auto total = C.size(1);
    for (const auto k : ablationSchedule(total, m_o.ablationBase)) {
      m_progress.check();
      // Every direction kept: the activations themselves, not C C+ (which would also drop
      // what truncation removed).
      const auto a =
          k == total
              ? finish(flat)
              : finish(at::matmul(at::matmul(flat, C.narrow(1, 0, k)), Cplus.narrow(0, 0, k)));
      curve.kept.push_back(k);
      curve.accuracy.push_back(a.accuracy);
      curve.loss.push_back(a.loss);
    }
    m_r.curves.push_back(std::move(curve));
  };
  trace("lib", m_C[layer], m_Cplus[layer]);
  Eigen::VectorXd values;
  Eigen::MatrixXd vectors;
  eigenDescending(m_gram[layer], values, vectors);
  const auto U = toTensor(vectors);
  trace("pca", U, U.t());
}

void LibRun::edgeAblation() {
  const auto K = m_index.size() - 1;
  // The PCA baseline: each node layer's Gram eigenbasis, untruncated (zero-variance directions
  // get zero edges), and the final node layer's basis as for LIB.
  std::vector<at::Tensor> U(K + 1), Ut(K + 1);
  for (std::size_t l = 0; l < K; ++l) {
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    eigenDescending(m_gram[l], values, vectors);
    U[l] = toTensor(vectors);
    Ut[l] = U[l].t().contiguous();
  }
  U[K] = m_C[K];
  Ut[K] = m_Cplus[K];
  m_progress.setStage("LIB: PCA edges");
  for (std::size_t l = 0; l < K; ++l) {
    m_r.pcaEdges.push_back(edgeMatrix(l, U[l], Ut[l], U[l + 1]));
    m_progress.setFraction(static_cast<double>(l + 1) / static_cast<double>(K));
  }
  // The threshold is the unmodified model's accuracy (not that of the model rotated into the
  // bases and back, which differs from it only by what truncation removed).
  const double target = m_r.baseAccuracy - m_o.edgeAblationTolerance;
  m_progress.setStage("LIB: edge ablation");
  for (std::size_t l = 0; l < K; ++l) {
    const auto finish = [&](const at::Tensor& next) {
      return scoreLogits(m_sections.run(m_index[l + 1], m_sections.outputIndex(), next),
                         m_a.targets);
    };
    for (const bool pca : {false, true}) {
      const LibSectionBases s{&m_sections,
                              m_index[l],
                              m_index[l + 1],
                              pca ? U[l] : m_C[l],
                              pca ? Ut[l] : m_Cplus[l],
                              pca ? U[l + 1] : m_C[l + 1],
                              pca ? Ut[l + 1] : m_Cplus[l + 1]};
      auto a = ablateEdges(s, pca ? m_r.pcaEdges[l] : m_r.edges[l], m_a.f[l], finish, target,
                           m_o.rowsPerPass, m_progress);
      a.from = m_r.layers[l].name;
      a.to = m_r.layers[l + 1].name;
      a.basis = pca ? "pca" : "lib";
      m_r.edgeAblations.push_back(std::move(a));
      m_progress.setFraction(static_cast<double>(2 * l + (pca ? 2 : 1)) /
                             static_cast<double>(2 * K));
    }
  }
}

LibResult LibRun::run() {
  const auto& c = m_model.config();
  if (m_o.nodeLayers.size() < 2) throw ConfigError("LIB needs at least two node layers");
  if (!(m_o.tau >= 0.0)) throw ConfigError("LIB: tau must be >= 0");
  if (m_o.batchSize <= 0) throw ConfigError("LIB: the batch size must be > 0");
  if (m_o.stochasticSources < 0) throw ConfigError("LIB: the stochastic sources must be >= 0");
  if (!(m_o.edgeAblationTolerance >= 0.0)) {
    throw ConfigError("LIB: the edge-ablation tolerance must be >= 0");
  }
  for (const auto& name : m_o.nodeLayers) {
    const auto node = parseNodeLayer(name, c.nLayers);
    const int index = m_sections.streamIndex(node);
    if (!m_index.empty() && index <= m_index.back()) {
      throw ConfigError("LIB node layers must follow the model's order without repeats; \"" + name +
                        "\" does not come after the one before it");
    }
    m_index.push_back(index);
    LibNodeLayer layer;
    layer.name = nodeLayerName(node);
    layer.width = m_sections.width(index);
    m_r.layers.push_back(std::move(layer));
  }
  m_r.dataset = m_dataset.describe();
  m_r.basis = libBasisName(m_o.basis);
  m_r.stochasticSources = m_o.stochasticSources;
  m_r.integration = std::string(ruleName(m_o.integration));
  m_r.centred = m_o.centre;
  m_r.rotateFinal = m_o.rotateFinal;
  m_r.tau = m_o.tau;

  torch::AutoGradMode gradients(true);  // the Jacobians; collect() turns it off for itself
  m_progress.setStage("LIB: node layer activations");
  collect();
  if (m_o.gramRecording) {
    readRecordedGrams();
  } else {
    for (const auto& f : m_a.f) {
      const auto flat = f.reshape({-1, f.size(2)});
      m_gram.push_back(toEigen(at::mm(flat.t(), flat) / static_cast<double>(flat.size(0))));
      m_mean.push_back(toEigen(flat.mean(0).unsqueeze(1)));
    }
    m_r.gramSource = "live";
    m_r.gramExamples = m_a.rows;
  }
  for (std::size_t l = 0; l < m_gram.size(); ++l) m_r.layers[l].gram = m_gram[l];
  const auto K = m_index.size() - 1;
  m_C.resize(m_index.size());
  m_Cplus.resize(m_index.size());
  computeFinalBasis();
  m_C[K] = toTensor(m_r.layers[K].C);
  m_Cplus[K] = toTensor(m_r.layers[K].Cplus);
  m_progress.setStage("LIB: bases");
  for (std::size_t l = K; l-- > 0;) {
    computeBasis(l);
    m_C[l] = toTensor(m_r.layers[l].C);
    m_Cplus[l] = toTensor(m_r.layers[l].Cplus);
    m_progress.setFraction(static_cast<double>(K - l) / static_cast<double>(K));
  }
  if (m_o.edges || m_o.edgeAblation) {
    m_progress.setStage("LIB: edges");
    for (std::size_t l = 0; l < K; ++l) {
      const auto start = std::chrono::steady_clock::now();
      m_r.edges.push_back(edgeMatrix(l, m_C[l], m_Cplus[l], m_C[l + 1]));
      m_r.edgeSeconds.push_back(secondsSince(start));
      m_progress.setFraction(static_cast<double>(l + 1) / static_cast<double>(K));
    }
  }
  if (m_o.edgeAblation) edgeAblation();
  if (m_o.ablationCurves) {
    m_progress.setStage("LIB: node-ablation curves");
    for (std::size_t l = 0; l < m_index.size(); ++l) {
      if (m_index[l] != m_sections.outputIndex()) ablationCurves(l);
      m_progress.setFraction(static_cast<double>(l + 1) / static_cast<double>(m_index.size()));
    }
  }
  m_progress.setFraction(1.0);
  return std::move(m_r);
}

}  // namespace

const char* libBasisName(LibBasis basis) {
  return basis == LibBasis::OneZeroAlpha ? "(1-0)*alpha" : "jacobian";
}

std::optional<LibBasis> parseLibBasis(const std::string& name) {
  if (name == "jacobian") return LibBasis::Jacobian;
  if (name == "one-zero-alpha" || name == "(1-0)*alpha") return LibBasis::OneZeroAlpha;
  return std::nullopt;
}

std::vector<std::string> defaultLibNodeLayers(int nLayers) {
  std::vector<std::string> names;
  for (int l = 0; l < nLayers; ++l) {
    names.push_back("blocks." + std::to_string(l) + ".hook_resid_pre");
    names.push_back("blocks." + std::to_string(l) + ".hook_resid_mid");
  }
  if (nLayers > 0) names.push_back("blocks." + std::to_string(nLayers - 1) + ".hook_resid_post");
  names.push_back("output");
  return names;
}

std::vector<std::int64_t> ablationSchedule(std::int64_t n, double base) {
  if (!(base > 1.0)) throw ConfigError("the ablation schedule's base must be > 1");
  std::vector<std::int64_t> ks;
  for (std::int64_t k = 0; k < std::min<std::int64_t>(n, 10); ++k) ks.push_back(k);
  // Base 2 gives 16, 32, 64, ...: the first power of the base past 9, then its multiples.
  double next = 1.0;
  while (next < 10.0) next *= base;
  for (auto k = static_cast<std::int64_t>(std::ceil(next - 1e-9)); k < n;) {
    ks.push_back(k);
    next *= base;
    k = std::max(k + 1, static_cast<std::int64_t>(std::ceil(next - 1e-9)));
  }
  ks.push_back(n);
  return ks;
}

LibResult computeLib(models::Transformer& model, const data::Dataset& dataset,
                     const LibOptions& options, Progress& progress) {
  LibRun run(model, dataset, options, progress);
  return run.run();
}

}  // namespace cs::analysis
