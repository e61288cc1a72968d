#pragma once
// The part of libtorch circuitscope uses: tensors and their factories, autograd (custom
// functions, grad), the grad-mode guards and seeding, and the CUDA queries. Include this instead
// of <torch/torch.h>; it is also the one precompiled header (cmake/torch_pch.cmake).
// <torch/torch.h> adds torch::nn, optim, data and serialize, whose templates GCC instantiates
// again at the end of every translation unit, precompiled or not: about 3.5 s per file, a
// quarter of a cold build. The few files that train include <torch/optim.h> themselves.
#include <torch/autograd.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>
