#include "ledger/signing.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/sha256.h"
#include "tests/testing/temp_dir.h"

namespace runledger::ledger {
namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// RFC 8032 section 7.1, TEST 1 and TEST 2.
constexpr std::string_view kSecret1 =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
constexpr std::string_view kPublic1 =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
constexpr std::string_view kSignature1 =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b4"
    "6bd25bf5f0595bbe24655141438e7a100b";
constexpr std::string_view kSecret2 =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
constexpr std::string_view kSignature2 =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d"
    "8c387b2eaeb4302aeeb00d291612bb0c00";

// DER prefixes of RFC 8410 Ed25519 keys, built here without OpenSSL.
std::string PrivatePemFromSeed(std::string_view seed_hex) {
  const std::string der = Unhex("302e020100300506032b657004220420") + Unhex(seed_hex);
  return "-----BEGIN PRIVATE KEY-----\n" + Base64Encode(der) + "\n-----END PRIVATE KEY-----\n";
}
std::string PublicDer(std::string_view public_hex) {
  return Unhex("302a300506032b6570032100") + Unhex(public_hex);
}

std::string Checkpoint() {
  return "runledger-checkpoint\n42\n" + std::string(64, 'a') + "\n2026-01-02T03:04:05.006Z\n";
}

TEST(SigningTest, MatchesRfc8032Vectors) {
  Result<Signer> signer1 = Signer::FromPem(PrivatePemFromSeed(kSecret1));
  ASSERT_TRUE(signer1) << signer1.error().ToString();
  EXPECT_EQ(HexOf(signer1->Sign("")), kSignature1);
  EXPECT_EQ(signer1->PublicKeyPem(), "-----BEGIN PUBLIC KEY-----\n" +
                                         Base64Encode(PublicDer(kPublic1)) +
                                         "\n-----END PUBLIC KEY-----\n");
  EXPECT_TRUE(VerifySignature(signer1->PublicKeyPem(), "", Unhex(kSignature1)));

  Result<Signer> signer2 = Signer::FromPem(PrivatePemFromSeed(kSecret2));
  ASSERT_TRUE(signer2) << signer2.error().ToString();
  EXPECT_EQ(HexOf(signer2->Sign("\x72")), kSignature2);
}

TEST(SigningTest, KeyIdIsSha256OfPublicKeyDer) {
  Result<Signer> signer = Signer::FromPem(PrivatePemFromSeed(kSecret1));
  ASSERT_TRUE(signer);
  const std::string expected = ToHex(Sha256(PublicDer(kPublic1)));
  EXPECT_EQ(signer->KeyId(), expected);
  EXPECT_EQ(KeyIdOfPublicPem(signer->PublicKeyPem()), expected);
  EXPECT_FALSE(KeyIdOfPublicPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"));
  EXPECT_FALSE(KeyIdOfPublicPem(""));
}

TEST(SigningTest, SignThenVerifyRoundTrips) {
  const Signer signer = Signer::Generate();
  const std::string signature = signer.Sign(Checkpoint());
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_EQ(signer.Sign(Checkpoint()), signature);  // Ed25519 is deterministic
  EXPECT_TRUE(VerifySignature(signer.PublicKeyPem(), Checkpoint(), signature));
  Result<Signer> reloaded = Signer::FromPem(signer.PrivateKeyPem());
  ASSERT_TRUE(reloaded);
  EXPECT_EQ(reloaded->KeyId(), signer.KeyId());
  EXPECT_NE(Signer::Generate().KeyId(), signer.KeyId());
}

TEST(SigningTest, TamperedMessageSignatureOrKeyIsRejected) {
  const Signer signer = Signer::Generate();
  const std::string message = Checkpoint();
  const std::string signature = signer.Sign(message);
  for (std::size_t i = 0; i < message.size(); ++i) {
    std::string tampered = message;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(VerifySignature(signer.PublicKeyPem(), tampered, signature)) << "byte " << i;
  }
  for (std::size_t i = 0; i < signature.size(); ++i) {
    std::string tampered = signature;
    tampered[i] ^= 0x20;
    EXPECT_FALSE(VerifySignature(signer.PublicKeyPem(), message, tampered)) << "byte " << i;
  }
  EXPECT_FALSE(VerifySignature(signer.PublicKeyPem(), message, signature.substr(1)));
  EXPECT_FALSE(VerifySignature(signer.PublicKeyPem(), message, signature + "x"));
  EXPECT_FALSE(VerifySignature(Signer::Generate().PublicKeyPem(), message, signature));
  EXPECT_FALSE(VerifySignature("not a key", message, signature));
}

TEST(SigningTest, SignIsThreadSafe) {
  const Signer signer = Signer::Generate();
  const std::string expected = signer.Sign(Checkpoint());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) mismatches[t] += signer.Sign(Checkpoint()) == expected ? 0 : 1;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(SigningTest, FromPemRejectsGarbageEncryptedAndNonEd25519Keys) {
  EXPECT_EQ(Signer::FromPem("").status().code(), Code::kCorruption);
  EXPECT_FALSE(Signer::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  EXPECT_FALSE(Signer::FromPem(Signer::Generate().PublicKeyPem()));

  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const std::string ec_pem(data, static_cast<std::size_t>(BIO_get_mem_data(bio, &data)));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  Result<Signer> from_ec = Signer::FromPem(ec_pem);
  ASSERT_FALSE(from_ec);
  EXPECT_EQ(from_ec.error().message(), "signing key: not an Ed25519 key");

  Result<Signer> ed = Signer::FromPem(PrivatePemFromSeed(kSecret1));
  ASSERT_TRUE(ed);
  EVP_PKEY* key = nullptr;
  {
    const std::string pem = ed->PrivateKeyPem();
    BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
    BIO_free(in);
  }
  ASSERT_NE(key, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  char password[] = "secret";
  ASSERT_EQ(
      PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), password, 6, nullptr, nullptr), 1);
  const std::string encrypted(data, static_cast<std::size_t>(BIO_get_mem_data(out, &data)));
  BIO_free(out);
  EVP_PKEY_free(key);
  EXPECT_FALSE(Signer::FromPem(encrypted));
}

TEST(SigningTest, LoadOrCreateCreatesThenReloadsTheSameKey) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "signing-key.pem").string();
  bool created = false;
  Result<Signer> first = Signer::LoadOrCreate(path, &created);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE(created);
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  Result<Signer> second = Signer::LoadOrCreate(path, &created);
  ASSERT_TRUE(second) << second.error().ToString();
  EXPECT_FALSE(created);
  EXPECT_EQ(second->KeyId(), first->KeyId());
  EXPECT_EQ(second->Sign(Checkpoint()), first->Sign(Checkpoint()));
  Result<Signer> third = Signer::LoadOrCreate(path);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->KeyId(), first->KeyId());

  std::ifstream file(path);
  const std::string contents((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(contents.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path()))
    ++entries;
  EXPECT_EQ(entries, 1) << "no temp file left behind";
}

TEST(SigningTest, LoadOrCreateReportsBadFilesAndDirectories) {
  testing::TempDir dir;
  const std::string garbage = (dir.path() / "garbage.pem").string();
  std::ofstream(garbage) << "not a key\n";
  EXPECT_EQ(Signer::LoadOrCreate(garbage).status().code(), Code::kCorruption);
  EXPECT_EQ(Signer::LoadOrCreate((dir.path() / "missing" / "key.pem").string()).status().code(),
            Code::kIOError);
  EXPECT_EQ(Signer::LoadOrCreate(dir.str()).status().code(), Code::kIOError);
}

TEST(Base64Test, MatchesRfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::string(plain));
  }
}

TEST(Base64Test, RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t length = 0; length <= all.size(); length += 1) {
    const std::string bytes = all.substr(all.size() - length);
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes) << length;
  }
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
}

TEST(Base64Test, DecodeIsStrict) {
  for (std::string_view bad :
       {"Zg", "Zg=", "Zm9", "Zh==", "Zm9=", "Zm9v\n", "Zm 9v", " Zm9v", "Z=g=", "====", "=Zm9",
        "Zm9v====", "Zg==Zm9v", "Zm8=Zm9v", "-_8=", "Zm9v!A==", "Zm9vY===", "Z==="}) {
    EXPECT_FALSE(Base64Decode(bad)) << bad;
  }
}

}  // namespace
}  // namespace runledger::ledger
