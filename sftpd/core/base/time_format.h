#pragma once

// UTC timestamps as text: "2026-11-25T15:23:20Z" (RFC 3339) for output and JSON, and the parser
// for what admins type ("2026-11-25" or the full form).

#include <optional>
#include <string>
#include <string_view>

#include "sftpd/core/base/clock.h"
#include "sftpd/core/base/result.h"

namespace sftplc {

// "YYYY-MM-DDTHH:MM:SSZ".
std::string FormatTime(TimePoint t);
// Same, or "-" for an absent time.
std::string FormatTime(const std::optional<TimePoint>& t);
// "YYYY-MM-DD".
std::string FormatDate(TimePoint t);
// RFC 5322 date for mail headers: "Wed, 25 Nov 2026 15:23:20 +0000".
std::string FormatRfc5322(TimePoint t);
// Parses "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM:SSZ". kInvalidArgument otherwise.
Result<TimePoint> ParseTime(std::string_view text);

}  // namespace sftplc
