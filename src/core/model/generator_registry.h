// Constructors of each generator family (internal).
#pragma once

#include <memory>
#include <string>

#include "actmap/model/generator.h"

namespace actmap {

std::shared_ptr<const Generator> make_sequential_generator(const ModelCard& card, const std::string& device);
std::shared_ptr<const Generator> make_stylegan2_generator(const ModelCard& card, const std::string& device);
std::shared_ptr<const Generator> make_stylegan3_generator(const ModelCard& card, const std::string& device);

}  // namespace actmap
