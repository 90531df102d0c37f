#include "vmi/TextTable.hpp"

#include <algorithm>

namespace vmi {

std::string TextTable::render(bool headers) const
{
    std::string out;
    if (!headers) {
        for (const auto& row : rows_) {
            for (std::size_t i = 0; i < row.size(); ++i) out += (i ? " " : "") + row[i];
            out += '\n';
        }
        return out;
    }
    std::vector<std::size_t> widths(columns_.size());
    for (std::size_t i = 0; i < columns_.size(); ++i) widths[i] = columns_[i].header.size();
    for (const auto& row : rows_)
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    auto emit = [&](const std::vector<std::string>& cells) {
        std::string line;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            bool last = i + 1 == cells.size();
            std::string pad(widths[i] - std::min(widths[i], cells[i].size()), ' ');
            if (i) line += ' ';
            if (columns_[i].right_aligned) line += pad + cells[i];
            else line += last ? cells[i] : cells[i] + pad;
        }
        out += line + '\n';
    };
    std::vector<std::string> header_cells;
    for (const Column& column : columns_) header_cells.push_back(column.header);
    emit(header_cells);
    for (const auto& row : rows_) emit(row);
    return out;
}

} // namespace vmi
