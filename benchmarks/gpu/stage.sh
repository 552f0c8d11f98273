#!/usr/bin/env bash
# Packs what benchmarks/gpu/device-run.sh needs on a GPU machine whose image has CUDA, a CUDA
# build of PyTorch (its libtorch is what disttune builds against there) and
# sentence-transformers, but none of disttune's Debian libraries and no network: the Debian
# packages below (downloaded here, unpacked there) and the shared data the GPU suite reads.
# Everything goes to .gpu-kit/ (git-ignored; name it in the device call's carry). About 35 MB.
#   benchmarks/gpu/stage.sh            # from the repository root, on the development machine
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=.gpu-kit
DATA=${DISTTUNE_DATA:-../shared/data}

# The build's find_package()s (MPI, HDF5, yaml-cpp, glog, GTest, nlohmann_json, utf8proc
# through pkg-config) and the run-time closure of the libraries disttune links, less glibc,
# libstdc++ and what any CUDA image has. device-run.sh unpacks a library package only where
# the machine lacks its sonames, and a development package only where it is not installed.
# libevent comes from bullseye (below), not from this list.
PACKAGES=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common
  libhwloc15 libpmix2 libfabric1 libucx0 libibverbs1
  ibverbs-providers librdmacm1 libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 libnuma1
  libmunge2 libltdl7
  libhdf5-dev hdf5-helpers libhdf5-103-1 libhdf5-hl-100 libaec0 libsz2 libaec-dev zlib1g-dev
  libcurl4 libcurl4-openssl-dev libssl-dev libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1
  libldap-2.5-0 libsasl2-2
  libyaml-cpp-dev libyaml-cpp0.7
  libgoogle-glog-dev libgoogle-glog0v6 libgflags-dev libgflags2.2 libunwind-dev libunwind8
  libgtest-dev googletest nlohmann-json3-dev libutf8proc-dev libutf8proc2
  pkgconf pkgconf-bin libpkgconf3
)

rm -rf "$KIT/debs"
mkdir -p "$KIT/debs" "$KIT/data"
# apt-get download writes into the current directory; as root it warns that the _apt user
# cannot write there, which is harmless.
(cd "$KIT/debs" && apt-get download -qq "${PACKAGES[@]}" 2> >(grep -v "unsandboxed" >&2))
# The same libevent 2.1.12 from Debian bullseye: bookworm's calls glibc 2.36's arc4random,
# which an Ubuntu 22.04 image (glibc 2.35) lacks, and Open MPI cannot start without it.
# Bullseye's needs glibc 2.25 and exports the same symbols. A private apt state (kept in
# /var/tmp) leaves the machine's sources alone.
OLD=/var/tmp/disttune-apt-bullseye
mkdir -p "$OLD/lists/partial" "$OLD/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main" \
  >"$OLD/sources.list"
APT_OLD=(-o "Dir::Etc::sourcelist=$OLD/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$OLD/lists"
         -o "Dir::Cache=$OLD/cache" -o Dir::State::status=/dev/null)
apt-get "${APT_OLD[@]}" update -qq
(cd "$KIT/debs" && apt-get "${APT_OLD[@]}" download -qq libevent-core-2.1-7 libevent-pthreads-2.1-7 \
  2> >(grep -v "unsandboxed" >&2))

# The newest glibc symbol version each package's ELF files need, for device-run.sh to refuse
# one the machine's glibc is too old for, by name, before unpacking anything. Fails here if a
# package needs more than Ubuntu 22.04's 2.35 (the oldest glibc among the distributions
# CUDA 13 images are built on, RHEL 8 and 9 aside).
FLOOR=2.35
: >"$KIT/glibc-needed.txt"
tmp=$(mktemp -d)
for deb in "$KIT"/debs/*.deb; do
  rm -rf "$tmp/x" && mkdir "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x"
  need=$(find "$tmp/x" -type f \( -name '*.so*' -o -perm -u+x \) -exec objdump -T {} + 2>/dev/null |
    grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)
  echo "$(basename "$deb") ${need:-none}" >>"$KIT/glibc-needed.txt"
  if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$FLOOR" | sort -V | tail -1)" != "$FLOOR" ]; then
    echo "stage: $(basename "$deb") needs glibc $need, newer than $FLOOR" >&2
    exit 1
  fi
done
rm -rf "$tmp"

for d in financial-rag scifact all-MiniLM-L6-v2; do
  if [ -d "$DATA/$d" ]; then
    rm -rf "${KIT:?}/data/$d"
    cp -r "$DATA/$d" "$KIT/data/"
  else
    echo "stage: no $DATA/$d; the GPU suite skips the entries that read it" >&2
  fi
done
echo "stage: $(find "$KIT/debs" -name '*.deb' | wc -l) packages and the data in $KIT ($(du -sh "$KIT" | cut -f1))"
