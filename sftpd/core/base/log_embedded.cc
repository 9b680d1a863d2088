// spdlog and fmt compiled into the programs sftpd starts per connection (sftpd-session,
// sftpd-sftp) instead of loaded from libspdlog.so and libfmt.so, the way spdlog's and fmt's
// own library sources build them from the headers Debian ships. With libstdc++ linked
// statically too, those programs load no C++ library at start: each connection's exec
// resolves some 4,400 fewer symbols (docs/architecture.md, "Process model").
// Linked as an object library so its definitions come before the shared libraries and
// --as-needed leaves those out. Everything else (sftpd, sftpctl, tests) uses the shared ones.

#ifndef SPDLOG_COMPILED_LIB
#error "log_embedded.cc builds the compiled spdlog: SPDLOG_COMPILED_LIB must be defined"
#endif

#include <fmt/format-inl.h>
#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_color_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

#include <mutex>

// fmt's src/format.cc: the instantiations its headers declare extern.
FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
}  // namespace detail
FMT_END_NAMESPACE

// spdlog's src/spdlog.cpp and src/color_sinks.cpp: the instantiations sftplc's logging uses.
template class SPDLOG_API spdlog::sinks::base_sink<std::mutex>;
template class SPDLOG_API spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class SPDLOG_API spdlog::sinks::ansicolor_stderr_sink<spdlog::details::console_mutex>;
