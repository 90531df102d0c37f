#include "common/TableWriter.hpp"

#include <algorithm>

namespace vmi {
namespace {

std::string spaces_escaped(const std::string& text)
{
    std::string out;
    for (char c : text) out += c == ' ' ? std::string("\\x20") : std::string(1, c);
    return out;
}

std::string render_text(const std::vector<ColumnHeading>& columns, const std::vector<std::vector<Cell>>& rows,
                        const TableStyle& style)
{
    std::vector<std::vector<std::string>> text;
    text.reserve(rows.size() + 1);
    if (style.headers) {
        std::vector<std::string> header;
        header.reserve(columns.size());
        for (const ColumnHeading& column : columns) header.emplace_back(column.header);
        text.push_back(std::move(header));
    }
    for (const std::vector<Cell>& row : rows) {
        std::vector<std::string> line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            std::string cell = cell_text(row[i]);
            line.push_back(i + 1 < row.size() ? spaces_escaped(cell) : std::move(cell));
        }
        text.push_back(std::move(line));
    }
    std::vector<std::size_t> widths(columns.size(), 0);
    if (!style.raw)
        for (const auto& line : text)
            for (std::size_t i = 0; i < line.size() && i < widths.size(); ++i)
                widths[i] = std::max(widths[i], line[i].size());

    std::string out;
    for (const auto& line : text) {
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (i) out += ' ';
            std::string pad(widths[i] - std::min(widths[i], line[i].size()), ' ');
            bool last = i + 1 == line.size();
            if (columns[i].align == Align::Right) out += pad + line[i];
            else out += last ? line[i] : line[i] + pad;
        }
        out += '\n';
    }
    return out;
}

nlohmann::json row_object(const std::vector<ColumnHeading>& columns, const std::vector<Cell>& row)
{
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t i = 0; i < columns.size() && i < row.size(); ++i)
        object[std::string(columns[i].id)] = cell_json(row[i]);
    return object;
}

} // namespace

std::string render_table(const std::vector<ColumnHeading>& columns, const std::vector<std::vector<Cell>>& rows,
                         const TableStyle& style)
{
    switch (style.format) {
    case OutputFormat::Text: return render_text(columns, rows, style);
    case OutputFormat::JsonLines: {
        std::string out;
        for (const std::vector<Cell>& row : rows) out += to_json_text(row_object(columns, row)) + "\n";
        return out;
    }
    case OutputFormat::Json: return to_json_text(table_json(columns, rows)) + "\n";
    }
    return {};
}

nlohmann::json table_json(const std::vector<ColumnHeading>& columns, const std::vector<std::vector<Cell>>& rows)
{
    nlohmann::json all = nlohmann::json::array();
    for (const std::vector<Cell>& row : rows) all.push_back(row_object(columns, row));
    return all;
}

} // namespace vmi
