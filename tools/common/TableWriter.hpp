#pragma once
// Writes rows of cells in the format asked for: a text table (aligned with a
// header line, aligned without one, or raw: one space between columns), a
// JSON array of objects, or one JSON object per line. One writer for every
// tool, so the same columns look the same everywhere.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/Cell.hpp"
#include "common/OutputFormat.hpp"

namespace vmi {

enum class Align { Left, Right };

struct ColumnHeading {
    std::string_view id;     // JSON key
    std::string_view header; // text header
    Align align = Align::Left;
};

struct TableStyle {
    OutputFormat format = OutputFormat::Text;
    bool headers = true;
    bool raw = false;
};

// In text, a cell of any column but the last has its spaces written as \x20,
// so a name with spaces never shifts the columns after it; the last column is
// written as it is (as ps writes its last column), so it diffs against ps.
std::string render_table(const std::vector<ColumnHeading>& columns, const std::vector<std::vector<Cell>>& rows,
                         const TableStyle& style);

// The rows as a JSON array of objects keyed by column id, guest bytes as they
// are: what --format json prints once to_json_text (OutputFormat.hpp) has
// escaped it, for a caller that puts the table inside a larger JSON value.
nlohmann::json table_json(const std::vector<ColumnHeading>& columns, const std::vector<std::vector<Cell>>& rows);

} // namespace vmi
