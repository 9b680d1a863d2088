#include "sftpd/core/auth/password_hasher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "sftpd/core/auth/argon2_engine.h"
#include "sftpd/core/auth/argon2_phc.h"

namespace sftplc::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    out += fmt::format("{:02x}", c);
  }
  return out;
}

config::Argon2Config Small(uint32_t t = 2, uint32_t m = 256, uint32_t p = 1) {
  config::Argon2Config c;
  c.t_cost = t;
  c.m_cost_kib = m;
  c.parallelism = p;
  return c;
}

// Reference vectors of the Argon2 reference implementation (phc-winner-argon2 src/test.c,
// Argon2id, version 0x13, password "password", salt "somesalt").
struct Vector {
  const char* password;
  const char* phc;
};
constexpr Vector kReference[] = {
    {"password",
     "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
    {"password",
     "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
    {"password",
     "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
    {"differentpassword",
     "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94"},
};

// Every reference vector verifies through our PHC parser and pooled engine.
TEST(PasswordHasherKatTest, ReferenceVectorsVerify) {
  PasswordHasher hasher(Small());
  for (const auto& v : kReference) {
    auto ok = hasher.Verify(v.phc, Secret(v.password));
    ASSERT_TRUE(ok.has_value()) << v.phc << ": " << ok.error().message();
    EXPECT_TRUE(*ok) << v.phc;
    auto wrong = hasher.Verify(v.phc, Secret("passwore"));
    ASSERT_TRUE(wrong.has_value());
    EXPECT_FALSE(*wrong) << v.phc;
  }
}

// The raw tag of the reference vector (hex in src/test.c) from the engine, and our encoder
// writes the reference string byte for byte.
TEST(PasswordHasherKatTest, RawTagAndEncodingMatchReference) {
  Argon2Engine engine(1);
  Argon2Input in;
  in.t_cost = 2;
  in.m_cost_kib = 256;
  in.parallelism = 1;
  in.password = "password";
  in.salt = "somesalt";
  auto tag = engine.Compute(in);
  ASSERT_TRUE(tag.has_value()) << tag.error().message();
  EXPECT_EQ(Hex(*tag), "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe");

  PhcHash h;
  h.t_cost = 2;
  h.m_cost_kib = 256;
  h.parallelism = 1;
  h.salt = "somesalt";
  h.hash = *tag;
  EXPECT_EQ(FormatPhc(h), kReference[0].phc);
}

// RFC 9106 section 5.3 (Argon2id with secret and associated data) through the pooled engine.
TEST(PasswordHasherKatTest, Rfc9106Argon2idVector) {
  Argon2Engine engine(1);
  std::string password(32, '\x01');
  std::string salt(16, '\x02');
  std::string secret(8, '\x03');
  std::string ad(12, '\x04');
  Argon2Input in;
  in.t_cost = 3;
  in.m_cost_kib = 32;
  in.parallelism = 4;
  in.password = password;
  in.salt = salt;
  in.secret = secret;
  in.ad = ad;
  auto tag = engine.Compute(in);
  ASSERT_TRUE(tag.has_value()) << tag.error().message();
  EXPECT_EQ(Hex(*tag), "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
}

// The pooled engine gives the same tag as libargon2's own allocator, first and reused area.
TEST(Argon2EngineTest, PooledEqualsUnpooledAndReusesArea) {
  Argon2Engine engine(1);
  Argon2Input in;
  in.t_cost = 1;
  in.m_cost_kib = 4096;
  in.password = "correct horse";
  in.salt = "0123456789abcdef";
  auto plain = Argon2Engine::ComputeUnpooled(in);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(engine.idle_areas(), 0u);
  auto first = engine.Compute(in);
  EXPECT_EQ(engine.idle_areas(), 1u);
  auto second = engine.Compute(in);
  EXPECT_EQ(engine.idle_areas(), 1u);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*first, *plain);
  EXPECT_EQ(*second, *plain);
  engine.ReleaseIdle();
  EXPECT_EQ(engine.idle_areas(), 0u);
}

// Areas go back to the system once idle for the given age, not before; a fresh call after
// that maps a new one and still gives the same tag.
TEST(Argon2EngineTest, ReleasesAreasIdleLongerThanTheAge) {
  using std::chrono::seconds;
  Argon2Engine engine(2);
  Argon2Input in;
  in.t_cost = 1;
  in.m_cost_kib = 1024;
  in.password = "correct horse";
  in.salt = "0123456789abcdef";
  auto first = engine.Compute(in);
  ASSERT_TRUE(first.has_value());
  auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(engine.ReleaseIdleOlderThan(seconds(30), now + seconds(10)), 0u);
  EXPECT_EQ(engine.idle_areas(), 1u);
  EXPECT_EQ(engine.ReleaseIdleOlderThan(seconds(30), now + seconds(31)), 1u);
  EXPECT_EQ(engine.idle_areas(), 0u);
  auto again = engine.Compute(in);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(engine.idle_areas(), 1u);
}

// A hash round-trips: the right password verifies, a wrong one does not; salts are fresh.
TEST(PasswordHasherTest, HashThenVerifyRoundTrip) {
  PasswordHasher hasher(Small(2, 1024, 1));
  auto a = hasher.Hash(Secret("correct horse battery"));
  auto b = hasher.Hash(Secret("correct horse battery"));
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_TRUE(b.has_value());
  EXPECT_THAT(*a, StartsWith("$argon2id$v=19$m=1024,t=2,p=1$"));
  EXPECT_NE(*a, *b);  // a fresh salt each time
  auto parsed = ParsePhc(*a);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->salt.size(), 16u);
  EXPECT_EQ(parsed->hash.size(), 32u);
  EXPECT_EQ(hasher.Verify(*a, Secret("correct horse battery")).value_or(false), true);
  EXPECT_EQ(hasher.Verify(*a, Secret("correct horse batterY")).value_or(true), false);
  EXPECT_EQ(hasher.Verify(*a, Secret("")).value_or(true), false);
  EXPECT_FALSE(hasher.NeedsRehash(*a));
}

// Hash refuses an empty password and one longer than 1024 bytes.
TEST(PasswordHasherTest, HashRefusesEmptyAndOverlong) {
  PasswordHasher hasher(Small());
  EXPECT_EQ(hasher.Hash(Secret("")).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(hasher.Hash(Secret(std::string(1025, 'a'))).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(hasher.Hash(Secret(std::string(1024, 'a'))).has_value());
}

// Malformed strings and other Argon2 variants are kInvalidArgument, never "false".
TEST(PasswordHasherTest, MalformedHashIsInvalidArgument) {
  PasswordHasher hasher(Small());
  const char* bad[] = {
      "",
      "plaintext",
      "$2b$12$abcdefghijklmnopqrstuv",
      "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ",  // no hash
      "$argon2id$v=19$m=256,t=2$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=18$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=0256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=9999999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=16,t=2,p=4$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHR$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c2$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4$x",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf6!EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
  };
  for (const char* phc : bad) {
    auto r = hasher.Verify(phc, Secret("password"));
    ASSERT_FALSE(r.has_value()) << phc;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << phc;
    EXPECT_THAT(r.error().message(), HasSubstr("malformed password hash")) << phc;
    EXPECT_TRUE(hasher.NeedsRehash(phc)) << phc;
  }
}

// NeedsRehash: true when any stored parameter differs from the configuration.
TEST(PasswordHasherTest, NeedsRehashWhenParametersDiffer) {
  PasswordHasher current(Small(2, 256, 1));
  auto h = current.Hash(Secret("correct horse battery"));
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(current.NeedsRehash(*h));
  EXPECT_TRUE(PasswordHasher(Small(3, 256, 1)).NeedsRehash(*h));  // t raised
  EXPECT_TRUE(PasswordHasher(Small(1, 256, 1)).NeedsRehash(*h));  // t lowered
  EXPECT_TRUE(PasswordHasher(Small(2, 512, 1)).NeedsRehash(*h));  // m raised
  EXPECT_TRUE(PasswordHasher(Small(2, 256, 2)).NeedsRehash(*h));  // p changed
  // The reference vector: 8-byte salt, otherwise matching parameters.
  EXPECT_TRUE(current.NeedsRehash(kReference[0].phc));
  // Version 0x10 (no v= field) verifies but needs a rehash.
  PhcHash old;
  old.version = kArgon2Version10;
  old.t_cost = 2;
  old.m_cost_kib = 256;
  old.parallelism = 1;
  old.salt = std::string(16, 's');
  Argon2Engine engine(1);
  Argon2Input in;
  in.version = kArgon2Version10;
  in.t_cost = 2;
  in.m_cost_kib = 256;
  in.password = "correct horse battery";
  in.salt = old.salt;
  old.hash = engine.Compute(in).value();
  std::string old_phc = FormatPhc(old);
  EXPECT_THAT(old_phc, StartsWith("$argon2id$m=256,t=2,p=1$"));
  EXPECT_TRUE(current.Verify(old_phc, Secret("correct horse battery")).value_or(false));
  EXPECT_TRUE(current.NeedsRehash(old_phc));
}

// Verify uses the stored parameters, not the configured ones (old hashes keep working).
TEST(PasswordHasherTest, VerifyUsesStoredParameters) {
  PasswordHasher old_params(Small(1, 512, 1));
  auto h = old_params.Hash(Secret("correct horse battery"));
  ASSERT_TRUE(h.has_value());
  PasswordHasher new_params(Small(3, 1024, 1));
  EXPECT_TRUE(new_params.Verify(*h, Secret("correct horse battery")).value_or(false));
}

// Concurrent verifications from several threads all get the right answers.
TEST(PasswordHasherTest, ConcurrentVerifiesAreIndependent) {
  PasswordHasher hasher(Small(1, 2048, 1));
  auto h = hasher.Hash(Secret("correct horse battery"));
  ASSERT_TRUE(h.has_value());
  constexpr int kThreads = 4;
  constexpr int kRounds = 5;
  std::vector<int> good(kThreads, 0);
  std::vector<int> bad(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < kRounds; ++r) {
        if (hasher.Verify(*h, Secret("correct horse battery")).value_or(false)) {
          ++good[i];
        }
        if (!hasher.Verify(*h, Secret("wrong horse battery")).value_or(true)) {
          ++bad[i];
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(good[i], kRounds);
    EXPECT_EQ(bad[i], kRounds);
  }
}

// Base64 without padding: round trips and the canonical form only.
TEST(Argon2PhcTest, Base64RoundTripAndCanonical) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "somesalt"}) {
    auto enc = Base64EncodeNoPad(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    EXPECT_EQ(Base64DecodeNoPad(enc).value_or("?"), s);
  }
  EXPECT_EQ(Base64EncodeNoPad("somesalt"), "c29tZXNhbHQ");
  EXPECT_FALSE(Base64DecodeNoPad("c29tZXNhbHR").has_value());  // non-zero unused bits
  EXPECT_FALSE(Base64DecodeNoPad("a").has_value());            // impossible length
  EXPECT_FALSE(Base64DecodeNoPad("YQ==").has_value());         // padding
}

}  // namespace
}  // namespace sftplc::auth
