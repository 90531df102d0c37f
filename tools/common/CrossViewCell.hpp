#pragma once
// The cell of one view's column in a cross-view table (vmi-ps --check,
// vmi-lsmod --check): whether that view sees the entry; no value when the
// view is unavailable on this kernel (or, for "guest", no list was given).
// `Row` has `entry.seen[i]` and `check.views[i]` with `id` and `available`.
#include <string_view>

#include <cstddef>

#include "common/Cell.hpp"

namespace vmi {

template <typename Row>
Cell view_cell(const Row& row, std::string_view id)
{
    for (std::size_t i = 0; i < row.check.views.size(); ++i) {
        if (row.check.views[i].id != id) continue;
        if (!row.check.views[i].available) return std::monostate{};
        return static_cast<bool>(row.entry.seen[i]);
    }
    return std::monostate{};
}

} // namespace vmi
