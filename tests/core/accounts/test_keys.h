#pragma once

// Public keys made with ssh-keygen, and the fingerprints `ssh-keygen -l` printed for them.

namespace sftplc::testing {

inline constexpr const char* kEd25519Key =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+ILUNH7khkGaVJvIomZAbLxzCBzQRJ0BmDJRXSb15A "
    "alice@laptop";
inline constexpr const char* kEd25519Fingerprint =
    "SHA256:i2dwbLAyAJwEDyKfyP1BkJQSJQVsrsZl0n5BM9NBtmk";
inline constexpr const char* kEcdsaKey =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEHH3qDQuAZ2GWlwxAIf"
    "+InGs7tD2uM800RPpDzIH7R+inkA5WjfTR7Jkcai6ZmrTpKjVtaxtlBqROVSCz0w45I= ";
inline constexpr const char* kEcdsaFingerprint =
    "SHA256:gy0nNh2o1WSHGBxZTSMyO8H6siCgOdHgKMpmJkUp3f0";
inline constexpr const char* kRsaKey =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCbBg+j9N03IRBQ+glWRgp28BMpuLQQjEu1s66omdCcbu7tvDZYC1P4"
    "q4e76u0RwWruCw4frCg8vkMOzsWXzvwm3x+DLLh2d6bbPnrHyvxOicnIeSqJPHY+mP7Svouskm7YNTExxZTJinqCECYq"
    "UcM1mXg0uwlUBqp+xGyzXkPdPgHxpzxskIzAmYhU+hCDIycIGhIU5eRboZRYPLHFvXDpvYAG5Xr94UmTb+C73JeNw1kf"
    "p2FZfJYMh1NpjFYB1PEodtCt19EAraPJ+7BlIQC9rfozV9/5bfVWM43h65WQdR/fCwARPKlF45A9P7i4HFXsZMmCUg51"
    "Mqc6mQrlgJ+n rsa key";
inline constexpr const char* kRsaFingerprint = "SHA256:X28/QDOXGNpNzQM5WjDcYrN9ddkhS9ItYcSNujfjfqQ";

}  // namespace sftplc::testing
