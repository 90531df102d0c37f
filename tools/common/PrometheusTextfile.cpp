#include "common/PrometheusTextfile.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>

#include <fmt/format.h>

namespace vmi {
namespace {

constexpr std::string_view FINDINGS = "vmi_check_findings";
constexpr std::string_view ERRORS = "vmi_check_errors";
constexpr std::string_view DURATION = "vmi_check_duration_seconds";
constexpr std::string_view LAST_SUCCESS = "vmi_check_last_success_timestamp_seconds";
// A label value longer than this is no domain or check name of ours.
constexpr std::size_t MAX_LABEL = 4096;

struct Sample {
    std::string name;
    std::map<std::string, std::string, std::less<>> labels;
    double value = 0;
};

// NAME{label="value",...} VALUE, as render() writes it; nullopt for anything else.
std::optional<Sample> parse_sample(std::string_view line)
{
    Sample sample;
    std::size_t brace = line.find('{');
    if (brace == std::string_view::npos || brace == 0) return std::nullopt;
    sample.name = std::string(line.substr(0, brace));
    std::size_t at = brace + 1;
    while (at < line.size() && line[at] != '}') {
        std::size_t equals = line.find('=', at);
        if (equals == std::string_view::npos || equals + 1 >= line.size() || line[equals + 1] != '"')
            return std::nullopt;
        std::string key(line.substr(at, equals - at));
        std::string value;
        std::size_t i = equals + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
            if (line[i] == '\\') {
                if (++i >= line.size()) return std::nullopt;
                value += line[i] == 'n' ? '\n' : line[i];
            } else {
                value += line[i];
            }
            if (value.size() > MAX_LABEL) return std::nullopt;
        }
        if (i >= line.size()) return std::nullopt;
        sample.labels[key] = std::move(value);
        at = i + 1;
        if (at < line.size() && line[at] == ',') ++at;
    }
    if (at >= line.size() || line.substr(at, 2) != "} ") return std::nullopt;
    std::string_view number = line.substr(at + 2);
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), sample.value);
    if (error != std::errc{} || end != number.data() + number.size() || !std::isfinite(sample.value))
        return std::nullopt;
    return sample;
}

std::string number(double value) { return fmt::format("{}", value); }

} // namespace

std::string prometheus_label_value(std::string_view value)
{
    std::string out;
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

PrometheusTextfile PrometheusTextfile::parse(std::string_view text)
{
    PrometheusTextfile file;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        std::optional<Sample> sample = parse_sample(line);
        if (!sample || sample->value < 0) continue;
        auto domain = sample->labels.find("domain");
        if (domain == sample->labels.end()) continue;
        if (sample->name == LAST_SUCCESS && sample->labels.size() == 1) {
            file.last_success_[domain->second] = sample->value;
            continue;
        }
        if (sample->name != FINDINGS && sample->name != ERRORS && sample->name != DURATION) continue;
        auto check = sample->labels.find("check");
        if (check == sample->labels.end() || sample->labels.size() != 2) continue;
        CheckOutcome& outcome = file.checks_[{domain->second, check->second}];
        outcome.domain = domain->second;
        if (sample->name == FINDINGS) outcome.findings = static_cast<std::size_t>(sample->value);
        else if (sample->name == ERRORS) outcome.errors = static_cast<std::size_t>(sample->value);
        else outcome.seconds = sample->value;
    }
    return file;
}

void PrometheusTextfile::record(std::string_view check, const CheckOutcome& outcome, double now)
{
    checks_[{outcome.domain, std::string(check)}] = outcome;
    if (outcome.completed) last_success_[outcome.domain] = now;
}

void PrometheusTextfile::forget_other_domains(std::string_view check, const std::vector<std::string>& seen)
{
    std::set<std::string, std::less<>> keep(seen.begin(), seen.end());
    std::erase_if(checks_,
                  [&](const auto& entry) { return entry.first.second == check && !keep.contains(entry.first.first); });
    std::erase_if(last_success_, [&](const auto& entry) {
        return std::none_of(checks_.begin(), checks_.end(),
                            [&](const auto& c) { return c.first.first == entry.first; });
    });
}

std::string PrometheusTextfile::render() const
{
    std::string out;
    auto family = [&](std::string_view name, std::string_view help, auto value_of) {
        out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
        for (const auto& [key, outcome] : checks_)
            out += fmt::format("{}{{domain=\"{}\",check=\"{}\"}} {}\n", name, prometheus_label_value(key.first),
                               prometheus_label_value(key.second), value_of(outcome));
    };
    family(FINDINGS, "What the last run of a vmitools check found: hidden tasks, hidden modules or kernel hooks.",
           [](const CheckOutcome& o) { return number(static_cast<double>(o.findings)); });
    family(ERRORS,
           "Errors of the last run of a vmitools check: views that broke off, 1 when the guest could not be read.",
           [](const CheckOutcome& o) { return number(static_cast<double>(o.errors)); });
    family(DURATION, "How long the last run of a vmitools check took.",
           [](const CheckOutcome& o) { return number(o.seconds); });
    out += fmt::format("# HELP {} When a vmitools check of the domain last ran to its end.\n# TYPE {} gauge\n",
                       LAST_SUCCESS, LAST_SUCCESS);
    for (const auto& [domain, when] : last_success_)
        out += fmt::format("{}{{domain=\"{}\"}} {}\n", LAST_SUCCESS, prometheus_label_value(domain), number(when));
    return out;
}

} // namespace vmi
