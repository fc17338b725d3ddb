#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "app_files.h"
#include "test_errors.h"

namespace actmap::app {
namespace {
namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class AppFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("actmap_app_test_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }

  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  void write(const std::string& rel, std::size_t bytes) const {
    std::ofstream(path(rel), std::ios::binary) << std::string(bytes, 'x');
  }
  void mkdir(const std::string& rel) const { fs::create_directories(path(rel)); }

  fs::path dir_;
};

std::vector<std::string> names(const std::vector<DirEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.name);
  return out;
}

using test::expect_error;

// ---- list_directory ----

using ListDirectory = AppFilesTest;

TEST_F(ListDirectory, DirectoriesFirstThenFilesEachSortedIgnoringCase) {
  mkdir("beta");
  mkdir("Alpha");
  write("zeta.json", 3);
  write("Beta.json", 5);
  write("alpha.PNG", 7);
  write("readme", 0);
  const auto entries = list_directory(dir_.string(), {}, false);
  EXPECT_EQ(names(entries),
            (std::vector<std::string>{"Alpha", "beta", "alpha.PNG", "Beta.json", "readme", "zeta.json"}));
  ASSERT_EQ(entries.size(), 6u);
  EXPECT_TRUE(entries[0].is_dir);
  EXPECT_TRUE(entries[1].is_dir);
  EXPECT_FALSE(entries[2].is_dir);
  EXPECT_EQ(entries[0].size, 0u);
  EXPECT_EQ(entries[2].size, 7u);
  EXPECT_EQ(entries[3].size, 5u);
  EXPECT_EQ(entries[4].size, 0u);
  EXPECT_EQ(entries[5].size, 3u);
}

TEST_F(ListDirectory, NamesDifferingOnlyInCaseKeepAFixedOrder) {
  write("readme", 1);
  write("README", 1);
  write("ReadMe", 1);
  EXPECT_EQ(names(list_directory(dir_.string(), {}, false)),
            (std::vector<std::string>{"README", "ReadMe", "readme"}));
}

TEST_F(ListDirectory, ReportsModificationTime) {
  write("old.json", 1);
  const utimbuf times{1700000000, 1600000000};  // access, modification
  ASSERT_EQ(::utime(path("old.json").c_str(), &times), 0);
  const auto entries = list_directory(dir_.string(), {}, false);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mtime_unix, 1600000000);
}

TEST_F(ListDirectory, FiltersFilesByExtensionIgnoringCaseButKeepsDirectories) {
  mkdir("models");
  mkdir("data.json");  // a directory named like a file is still a directory to enter
  write("a.json", 1);
  write("b.JSON", 1);
  write("c.png", 1);
  write("d.json.bak", 1);
  write("json", 1);
  write("e.txt", 1);
  EXPECT_EQ(names(list_directory(dir_.string(), {".json", ".png"}, false)),
            (std::vector<std::string>{"data.json", "models", "a.json", "b.JSON", "c.png"}));
  EXPECT_EQ(names(list_directory(dir_.string(), {"txt"}, false)),
            (std::vector<std::string>{"data.json", "models", "e.txt"}));
}

TEST_F(ListDirectory, SkipsHiddenEntriesUnlessAsked) {
  mkdir(".cache");
  write(".secret.json", 1);
  write("shown.json", 1);
  EXPECT_EQ(names(list_directory(dir_.string(), {}, false)), (std::vector<std::string>{"shown.json"}));
  EXPECT_EQ(names(list_directory(dir_.string(), {}, true)),
            (std::vector<std::string>{".cache", ".secret.json", "shown.json"}));
}

TEST_F(ListDirectory, SkipsBrokenLinksAndFollowsGoodOnes) {
  mkdir("real_dir");
  write("real.json", 4);
  fs::create_symlink(path("nowhere"), path("dangling.json"));
  fs::create_symlink(path("real_dir"), path("link_dir"));
  fs::create_symlink(path("real.json"), path("link.json"));
  const auto entries = list_directory(dir_.string(), {}, false);
  EXPECT_EQ(names(entries), (std::vector<std::string>{"link_dir", "real_dir", "link.json", "real.json"}));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_TRUE(entries[0].is_dir);
  EXPECT_EQ(entries[2].size, 4u);
}

TEST_F(ListDirectory, LeavesOutSpecialFiles) {
  ASSERT_EQ(::mkfifo(path("pipe").c_str(), 0600), 0);
  write("file", 1);
  EXPECT_EQ(names(list_directory(dir_.string(), {}, false)), (std::vector<std::string>{"file"}));
}

TEST_F(ListDirectory, EmptyDirectoryGivesEmptyList) {
  EXPECT_TRUE(list_directory(dir_.string(), {}, true).empty());
}

TEST_F(ListDirectory, ErrorNamesAMissingDirectory) {
  const std::string missing = path("no/such/dir");
  expect_error([&] { list_directory(missing, {}, false); }, {missing, "No such file or directory"});
}

TEST_F(ListDirectory, ErrorNamesAFileGivenAsDirectory) {
  write("plain.json", 1);
  expect_error([&] { list_directory(path("plain.json"), {}, false); }, {path("plain.json"), "Not a directory"});
}

TEST_F(ListDirectory, ErrorNamesAnUnreadableDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any directory";
  mkdir("locked");
  fs::permissions(path("locked"), fs::perms::none);
  expect_error([&] { list_directory(path("locked"), {}, false); }, {path("locked"), "Permission denied"});
  fs::permissions(path("locked"), fs::perms::owner_all);
}

// ---- names and paths ----

TEST(HasExtension, MatchesIgnoringCaseWithOrWithoutTheDot) {
  EXPECT_TRUE(has_extension("face.json", {".json"}));
  EXPECT_TRUE(has_extension("FACE.JSON", {".json"}));
  EXPECT_TRUE(has_extension("face.png", {"json", "png"}));
  EXPECT_TRUE(has_extension("anything", {}));
  EXPECT_FALSE(has_extension("face.json.bak", {".json"}));
  EXPECT_FALSE(has_extension(".json", {".json"}));
  EXPECT_FALSE(has_extension("facejson", {".json"}));
}

TEST(WithDefaultExtension, AppendsTheFirstExtensionOnlyToABareName) {
  EXPECT_EQ(with_default_extension("face", {".json", ".png"}), "face.json");
  EXPECT_EQ(with_default_extension("face", {"png"}), "face.png");
  EXPECT_EQ(with_default_extension("face.json", {".json"}), "face.json");
  EXPECT_EQ(with_default_extension("face.PNG", {".json"}), "face.PNG");
  EXPECT_EQ(with_default_extension("face", {}), "face");
  EXPECT_EQ(with_default_extension("", {".json"}), "");
}

TEST(NormalizePath, AbsoluteWithoutDotsOrTrailingSlash) {
  EXPECT_EQ(normalize_path("/a/b/../c/./d/"), "/a/c/d");
  EXPECT_EQ(normalize_path("/a//b"), "/a/b");
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path("x/../y.json"), (fs::current_path() / "y.json").string());
}

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConfigDir, PrefersXdgConfigHomeThenHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "/custom/config/");
    EXPECT_EQ(config_dir(), "/custom/config/actmap");
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
    EXPECT_EQ(config_dir(), "/home/someone/.config/actmap");
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "relative/config");  // invalid per the XDG spec: ignored
    EXPECT_EQ(config_dir(), "/home/someone/.config/actmap");
  }
}

TEST(HumanSize, BytesThenOneDecimalInBinaryUnits) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(532), "532 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1024), "1.0 KB");
  EXPECT_EQ(human_size(1229), "1.2 KB");
  EXPECT_EQ(human_size(3565158), "3.4 MB");         // 3.4 * 1024^2
  EXPECT_EQ(human_size(1048524), "1023.9 KB");      // 1023.949 KB
  EXPECT_EQ(human_size(1048525), "1.0 MB");         // 1023.950 KB would print as "1024.0 KB"
  EXPECT_EQ(human_size(5368709120ull), "5.0 GB");
  EXPECT_EQ(human_size(UINTMAX_MAX), "16.0 EB");
}

// ---- RecentFiles ----

using Recent = AppFilesTest;

TEST_F(Recent, NewestFirstWithoutDuplicates) {
  RecentFiles recent(path("recent.json"));
  recent.add("/data/a.json");
  recent.add("/data/b.json");
  recent.add("/data/c.json");
  recent.add("/data/a.json");
  EXPECT_EQ(recent.items(), (std::vector<std::string>{"/data/a.json", "/data/c.json", "/data/b.json"}));
  EXPECT_EQ(recent.warning(), "");
}

TEST_F(Recent, StoresAbsoluteNormalisedPaths) {
  RecentFiles recent(path("recent.json"));
  recent.add("/data/x/../b.json");
  recent.add("/data/./b.json");  // the same file: no second entry
  recent.add("rel.json");
  EXPECT_EQ(recent.items(), (std::vector<std::string>{(fs::current_path() / "rel.json").string(), "/data/b.json"}));
}

TEST_F(Recent, KeepsAtMostMax) {
  RecentFiles recent(path("recent.json"), 3);
  for (const char* p : {"/1", "/2", "/3", "/4", "/5"}) recent.add(p);
  EXPECT_EQ(recent.items(), (std::vector<std::string>{"/5", "/4", "/3"}));
}

TEST_F(Recent, PersistsAcrossInstances) {
  {
    RecentFiles recent(path("recent.json"));
    recent.add("/data/a.json");
    recent.add("/data/b.json");
  }
  const auto doc = nlohmann::json::parse(read_file_text(path("recent.json")));
  EXPECT_EQ(doc, nlohmann::json::parse(R"({"recent": ["/data/b.json", "/data/a.json"]})"));

  RecentFiles again(path("recent.json"));
  again.load();
  EXPECT_EQ(again.items(), (std::vector<std::string>{"/data/b.json", "/data/a.json"}));
  EXPECT_EQ(again.warning(), "");
}

TEST_F(Recent, LoadKeepsAtMostMaxAndDropsDuplicates) {
  write_file_atomic(path("recent.json"), std::string(R"({"recent": ["/a", "/b", "/a", "/c", "/d"]})"));
  RecentFiles recent(path("recent.json"), 3);
  recent.load();
  EXPECT_EQ(recent.items(), (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST_F(Recent, RemoveDropsTheEntryAndSaves) {
  RecentFiles recent(path("recent.json"));
  recent.add("/data/a.json");
  recent.add("/data/b.json");
  recent.remove("/data/x/../a.json");
  recent.remove("/data/not-there.json");
  EXPECT_EQ(recent.items(), (std::vector<std::string>{"/data/b.json"}));
  RecentFiles again(path("recent.json"));
  again.load();
  EXPECT_EQ(again.items(), (std::vector<std::string>{"/data/b.json"}));
}

TEST_F(Recent, MissingStoreIsAnEmptyListWithoutWarning) {
  RecentFiles recent(path("never-written.json"));
  recent.load();
  EXPECT_TRUE(recent.items().empty());
  EXPECT_EQ(recent.warning(), "");
}

TEST_F(Recent, CreatesTheStoreDirectory) {
  RecentFiles recent(path("config/actmap/recent.json"));
  recent.add("/data/a.json");
  EXPECT_EQ(recent.warning(), "");
  EXPECT_TRUE(fs::is_regular_file(path("config/actmap/recent.json")));
}

TEST_F(Recent, CorruptStoreGivesWarningAndEmptyList) {
  const std::string store = path("recent.json");
  // Truncated JSON, then three well-formed texts of the wrong shape.
  for (const std::string text : {R"({"recent": ["/a", )", R"(["/a"])", R"({"recent": "/a"})", R"({"recent": ["/a", 3]})"}) {
    write_file_atomic(store, text);
    RecentFiles recent(store);
    EXPECT_NO_THROW(recent.load());
    EXPECT_TRUE(recent.items().empty()) << text;
    EXPECT_NE(recent.warning().find(store), std::string::npos) << recent.warning();
  }
}

TEST_F(Recent, CorruptStoreIsReplacedByTheNextAdd) {
  write_file_atomic(path("recent.json"), std::string("not json"));
  RecentFiles recent(path("recent.json"));
  recent.load();
  EXPECT_NE(recent.warning().find("invalid JSON"), std::string::npos) << recent.warning();
  recent.add("/data/a.json");
  EXPECT_EQ(recent.warning(), "");
  RecentFiles again(path("recent.json"));
  again.load();
  EXPECT_EQ(again.items(), (std::vector<std::string>{"/data/a.json"}));
}

TEST_F(Recent, UnwritableStoreGivesWarningNotException) {
  write("blocker", 1);  // a file where the store's directory should be: fails even for root
  const std::string store = path("blocker/recent.json");
  RecentFiles recent(store);
  EXPECT_NO_THROW(recent.add("/data/a.json"));
  EXPECT_EQ(recent.items(), (std::vector<std::string>{"/data/a.json"}));  // still usable this session
  EXPECT_NE(recent.warning().find("not saved"), std::string::npos) << recent.warning();
  EXPECT_NE(recent.warning().find(path("blocker")), std::string::npos) << recent.warning();
  EXPECT_NO_THROW(recent.remove("/data/a.json"));
  EXPECT_FALSE(recent.warning().empty());
}

TEST_F(Recent, NonUtf8PathIsKeptInMemoryButOthersStillSave) {
  RecentFiles recent(path("recent.json"));
  recent.add("/data/a.json");
  recent.add("/data/bad\xff.json");
  EXPECT_NE(recent.warning().find("UTF-8"), std::string::npos) << recent.warning();
  EXPECT_EQ(recent.items().size(), 2u);
  RecentFiles again(path("recent.json"));
  again.load();
  EXPECT_EQ(again.items(), (std::vector<std::string>{"/data/a.json"}));
}

}  // namespace
}  // namespace actmap::app
