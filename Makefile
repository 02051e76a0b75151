# The two commands of README.md:
#   make demo   install what is missing, build, and start the gateway on the embedded demo
#   make test   install what is missing, build, and run every test (what CI runs)
# Further targets: make build, make test-asan, make bench, make clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

# Debian 12 packages the build and the tests need.
DEB_PACKAGES = cmake ninja-build g++ clang-14 libclang-rt-14-dev pkg-config ccache \
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
  librocksdb-dev libboost-dev libabsl-dev libyaml-cpp-dev libssl-dev libgtest-dev \
  libexpat1-dev libcurl4-openssl-dev libjpeg62-turbo-dev libpng-dev libwebp-dev python3 python3-grpcio python3-yaml python3-feedparser python3-icalendar python3-h2 \
  curl nginx-light openssl chromium fonts-dejavu-core

# Compiler cache keyed on paths relative to this checkout, so a fresh clone reuses earlier builds
# (with -fdebug-prefix-map from CMakeLists.txt, the build folder is not part of the key either).
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
# npm never fetches a browser: the console's tests use Debian's chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

FUZZ_BUILD ?= build-fuzz

.PHONY: deps tools build demo test test-fast test-asan test-fuzz fuzz-long bench soak clean

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Third-party clients for the tests (buf and an OpenAPI validator, from the npm registry, versions
# pinned in the lock file), the Web Push receiver's http_ece (tests/push),
# the example TypeScript app client (tests/clients/typescript),
# and the console's build and browser-test packages (services/console/package-lock.json; the
# browser is Debian's chromium, so Playwright never downloads one).
tools: deps
	@cd tests/tools && { cmp -s package-lock.json node_modules/.civitas-lock || { \
	  npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.civitas-lock; }; }
	@cd tests/push && { cmp -s package-lock.json node_modules/.civitas-lock || { \
	  npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.civitas-lock; }; }
	@cd tests/clients/typescript && { [ -x node_modules/.bin/tsc ] || \
	  npm ci --no-audit --no-fund --silent; }
	@cd services/console && { cmp -s package-lock.json node_modules/.civitas-lock || { \
	  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent && \
	  cp package-lock.json node_modules/.civitas-lock; }; }

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

# The demo needs the gateway, civitasctl, the bundled modules and the console only.
demo: tools
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS) --target civitas-gateway civitasctl noticeboard news events \
	  participation reports console
	$(BUILD)/bin/civitas-gateway --data_dir=./state

# Every test: the normal build, then unit and integration tests again under ASan+UBSan, then a
# short libFuzzer run of each fuzz target.
test: build tools
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test-fast: build tools
	ctest --test-dir $(BUILD) -j $(JOBS) --output-on-failure

# The hostile-network floods are left out here: they assert memory and CPU bounds of the real
# build, which mean nothing under ASan's redzones and quarantine.
test-asan: deps tools
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DCIVITAS_SANITIZE=address,undefined $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) -j $(JOBS) -L 'unit|integration' \
	  -E 'sdk_standalone_build_test|hostile_' \
	  --output-on-failure

# The dispatch benchmark (not part of make test): Release build, h2load, table on stdout.
bench: deps
	@command -v h2load >/dev/null || { sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nghttp2-client; }
	cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build build-release -j $(JOBS)
	tests/bench/run.sh build-release
	tests/bench/city.sh build-release

# Ten minutes at 70% of the measured maximum rate; reports RSS growth and errors.
SOAK_MINUTES ?= 10
soak: deps
	@command -v h2load >/dev/null || { sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nghttp2-client; }
	cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)
	cmake --build build-release -j $(JOBS)
	tests/bench/soak.sh build-release $(SOAK_MINUTES)

# libFuzzer (clang): config, bundle and token parsers, the JSON/HTTP transcoder, and every
# module's handlers through the fake host.
FUZZ_TARGETS = config_fuzz bundle_fuzz token_fuzz transcoder_fuzz noticeboard_fuzz news_fuzz events_fuzz \
  participation_fuzz reports_fuzz
test-fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCIVITAS_FUZZ=ON -DCIVITAS_SANITIZE=address,undefined \
	  -DCIVITAS_WERROR=OFF $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	ASAN_OPTIONS=detect_leaks=1 ctest --test-dir $(FUZZ_BUILD) -L fuzz --output-on-failure

# A longer fuzzing session (not part of make test): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 600
fuzz-long: deps
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCIVITAS_FUZZ=ON -DCIVITAS_SANITIZE=address,undefined \
	  -DCIVITAS_WERROR=OFF -DCIVITAS_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	ctest --test-dir $(FUZZ_BUILD) -L fuzz --output-on-failure --timeout $$(( $(FUZZ_SECONDS) + 120 ))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-release
