#include "sftpd/core/lifecycle/configured_runner.h"

#include "sftpd/core/base/log.h"
#include "sftpd/core/notify/templates.h"

namespace sftplc::lifecycle {

Result<ConfiguredRunner> MakeConfiguredRunner(db::Database& db, const config::Config& cfg,
                                              bool with_mailer) {
  // Notices are rendered only to be delivered: without a mailer the runner renders nothing, so
  // a broken templates_dir must not stop what needs no mail (an erasure above all).
  notify::TemplateSet templates = notify::TemplateSet::Defaults();
  if (with_mailer) {
    auto loaded = notify::TemplateSet::Load(cfg.lifecycle.templates_dir);
    if (!loaded) {
      return loaded.error();
    }
    templates = std::move(*loaded);
  }
  ConfiguredRunner out;
  if (with_mailer) {
    auto mailer = notify::CreateSmtpMailer(cfg.smtp, GetLogger("mail"));
    if (!mailer) {
      return mailer.error();
    }
    out.mailer = std::move(*mailer);
  }
  out.runner = std::make_unique<LifecycleRunner>(db, cfg, out.mailer.get(), std::move(templates),
                                                 GetLogger("lifecycle"));
  return out;
}

}  // namespace sftplc::lifecycle
