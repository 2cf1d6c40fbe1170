# The Hub download checks sha256 with OpenSSL's libcrypto (libcurl's TLS backend already).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
target_link_libraries(smol_hub PUBLIC OpenSSL::Crypto)
