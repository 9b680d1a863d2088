#include <curl/curl.h>
#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <mutex>

#include "sftpd/core/notify/mailer.h"

namespace sftplc::notify {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Upload {
  const std::string* data;
  size_t pos = 0;
};

size_t ReadCallback(char* buffer, size_t size, size_t nitems, void* userp) {
  auto* up = static_cast<Upload*>(userp);
  size_t room = size * nitems;
  size_t left = up->data->size() - up->pos;
  size_t n = std::min(room, left);
  std::memcpy(buffer, up->data->data() + up->pos, n);
  up->pos += n;
  return n;
}

class SmtpMailer final : public Mailer {
 public:
  SmtpMailer(config::SmtpConfig cfg, std::string user, std::string password, Logger log)
      : cfg_(std::move(cfg)),
        user_(std::move(user)),
        password_(std::move(password)),
        log_(std::move(log)) {}

  ~SmtpMailer() override {
    // Best effort: do not leave the SMTP password in freed memory.
    std::fill(password_.begin(), password_.end(), '\0');
  }

  Status Send(const Envelope& envelope, const std::string& message) override {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) {
      return Error::Internal("curl_easy_init failed");
    }
    CURL* c = curl.get();
    std::string from = "<" + envelope.from + ">";
    std::string to = "<" + envelope.to + ">";
    std::unique_ptr<curl_slist, SlistDeleter> rcpt(curl_slist_append(nullptr, to.c_str()));
    Upload up{&message, 0};
    curl_easy_setopt(c, CURLOPT_URL, cfg_.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(cfg_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(cfg_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadCallback);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (cfg_.url.rfind("smtp://", 0) == 0) {
      long ssl = cfg_.tls == "required" ? CURLUSESSL_ALL
                 : cfg_.tls == "try"    ? CURLUSESSL_TRY
                                        : CURLUSESSL_NONE;
      curl_easy_setopt(c, CURLOPT_USE_SSL, ssl);
    }
    if (!user_.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
    }
    CURLcode rc = curl_easy_perform(c);
    long response = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response);
    if (rc == CURLE_OK) {
      SPDLOG_LOGGER_DEBUG(log_, "mail accepted smtp_code={}", response);
      return {};
    }
    // curl's error text can quote a recipient address: it is never logged, at any level.
    SPDLOG_LOGGER_DEBUG(log_, "mail not sent curl={} smtp_code={}", static_cast<int>(rc), response);
    std::string msg =
        fmt::format("SMTP delivery failed: {} (smtp code {})", curl_easy_strerror(rc), response);
    if (response >= 500 && response < 600) {
      return Error::PermissionDenied(msg);
    }
    if (rc == CURLE_LOGIN_DENIED) {
      return Error::PermissionDenied(msg);
    }
    return Error::Unavailable(msg);
  }

 private:
  config::SmtpConfig cfg_;
  std::string user_;
  std::string password_;
  Logger log_;
};

}  // namespace

void GlobalInitCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<std::unique_ptr<Mailer>> CreateSmtpMailer(const config::SmtpConfig& cfg, Logger log) {
  if (cfg.url.rfind("smtp://", 0) != 0 && cfg.url.rfind("smtps://", 0) != 0) {
    return Error::InvalidArgument("smtp.url must start with smtp:// or smtps://");
  }
  if (cfg.tls != "required" && cfg.tls != "try" && cfg.tls != "none") {
    return Error::InvalidArgument("smtp.tls must be \"required\", \"try\" or \"none\"");
  }
  std::string user, password;
  if (!cfg.auth_file.empty()) {
    std::ifstream in(cfg.auth_file);
    if (!in) {
      return Error::NotFound(fmt::format("smtp.auth_file {} cannot be read", cfg.auth_file));
    }
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
      line.pop_back();
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Error::InvalidArgument(
          fmt::format("smtp.auth_file {} must hold one line user:password", cfg.auth_file));
    }
    user = line.substr(0, colon);
    password = line.substr(colon + 1);
    std::fill(line.begin(), line.end(), '\0');
  }
  GlobalInitCurl();
  return std::unique_ptr<Mailer>(
      std::make_unique<SmtpMailer>(cfg, std::move(user), std::move(password), std::move(log)));
}

}  // namespace sftplc::notify
