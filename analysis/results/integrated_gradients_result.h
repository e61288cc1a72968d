// What integrated gradients over a model's input report: the attribution of every input element
// (embedding coordinates or pixel values), their sums per token or per pixel, and how far the
// total is from F(input) - F(baseline). Plain struct (std + Eigen) for the viewers.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace cs::analysis {

struct IntegratedGradientsResult {
  std::string rule;      ///< "left-riemann", "trapezoid", "gauss-legendre", "gradient"
  int steps = 0;         ///< the rule's parameter (m or n)
  int points = 0;        ///< quadrature nodes evaluated (one forward+backward row each)
  std::string baseline;  ///< e.g. "zero embeddings", "token 50256", "black image"
  std::string target;    ///< e.g. "logit[5] - logit[7] at position 9"
  std::int64_t answer = 0;
  std::int64_t foil = -1;     ///< -1: F is logit[answer] alone
  std::int64_t position = 0;  ///< the position F reads (language models); -1 for classifiers

  double inputValue = 0.0;     ///< F(a)
  double baselineValue = 0.0;  ///< F(a')
  double attributionSum = 0.0;
  double completenessError = 0.0;  ///< |sum IG - (F(a) - F(a'))|
  /// completenessError / |F(a) - F(a')| (0 when both are 0, +inf when only the difference is).
  double relativeError = 0.0;

  /// The input's shape without the batch axis: [T, D] embeddings or [C, H, W] pixels.
  std::vector<std::int64_t> elementShape;
  std::vector<double> elements;  ///< IG of every element, row-major over elementShape
  Eigen::VectorXd perToken;      ///< language models: [T], summed over the embedding
  Eigen::MatrixXd perPixel;      ///< image models: [H, W], summed over the channels

  int forwardBackwardPasses = 0;  ///< batched chunks of points (each one forward + backward)
  int forwardPasses = 0;          ///< plain forward passes (F(a) and F(a') together: 1)
};

}  // namespace cs::analysis
