# Installation and the Debian package (CPack): `cpack --config build/CPackConfig.cmake`
# in a configured and built tree gives cpmesh_<version>_<arch>.deb.
#
#   /usr/bin              the services, cpmctl, cpmesh-node
#   /usr/lib/cpmesh       libzmq.so.5: Debian's libzmq 4.3.4 with cpmesh's fix (deploy/libzmq)
#   /usr/share/cpmesh     the deployment data (hanoi/, with reform-2025/) and the
#                         gateway's web assets (www/, when the source has them)
#   /lib/systemd/system   cpmesh@.service (one instance per service), cpmesh.target
#   /etc/cpmesh/examples  example service configurations (the package's only conffiles:
#                         never a key, never the registry)
# The maintainer scripts (deploy/debian) create the system user cpmesh,
# /var/lib/cpmesh (0750, cpmesh) and /etc/cpmesh/keys, start nothing, and delete
# user, data and configuration only on purge. docs/operations.md says how to set a
# node up on it.
include(GNUInstallDirs)
# `cpack` and `make install` take what is built and do not first build every
# test and bench program (the "all" target): build the programs, then package.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(CPM_SERVICES intake routing inspection exchange monitor gateway)
foreach(svc ${CPM_SERVICES})
  install(TARGETS cpmesh-${svc} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endforeach()
install(TARGETS cpmctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The patched libzmq (deploy/libzmq), private to cpmesh: the programs' RPATH
# is $ORIGIN/../lib/cpmesh. The system's libzmq5 is neither used nor needed.
get_filename_component(CPM_LIBZMQ_FILE ${CPM_LIBZMQ_PREFIX}/lib/libzmq.so.5 REALPATH)
install(FILES ${CPM_LIBZMQ_FILE} DESTINATION lib/cpmesh RENAME libzmq.so.5)
# Stripped as the programs are (CPACK_STRIP_FILES strips targets only).
install(CODE "execute_process(COMMAND ${CMAKE_STRIP} --strip-unneeded
  \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/cpmesh/libzmq.so.5 COMMAND_ERROR_IS_FATAL ANY)")
install(PROGRAMS ${CMAKE_SOURCE_DIR}/tools/cpmesh-node DESTINATION ${CMAKE_INSTALL_BINDIR})

install(DIRECTORY ${CMAKE_SOURCE_DIR}/deploy/hanoi DESTINATION ${CMAKE_INSTALL_DATADIR}/cpmesh)
# The dashboard's assets are served from here (the gateway's www folder).
if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/services/gateway/www)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/services/gateway/www/ DESTINATION ${CMAKE_INSTALL_DATADIR}/cpmesh/www)
endif()
install(FILES ${CMAKE_SOURCE_DIR}/docs/operations.md ${CMAKE_SOURCE_DIR}/docs/protocol.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/deploy/nginx/cpmesh-gateway.conf
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# Absolute destinations: where systemd and dpkg look, whatever the prefix.
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/cpmesh@.service
  ${CMAKE_SOURCE_DIR}/deploy/systemd/cpmesh.target DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/cpmesh@gateway.service.d/threads.conf
  DESTINATION /lib/systemd/system/cpmesh@gateway.service.d)
set(CPM_EXAMPLES)
foreach(svc ${CPM_SERVICES})
  list(APPEND CPM_EXAMPLES ${CMAKE_SOURCE_DIR}/deploy/debian/examples/${svc}.yaml)
endforeach()
install(FILES ${CPM_EXAMPLES} DESTINATION /etc/cpmesh/examples)

# The conffiles list, written at configure time from the same list.
set(CPM_CONFFILES "")
foreach(svc ${CPM_SERVICES})
  string(APPEND CPM_CONFFILES "/etc/cpmesh/examples/${svc}.yaml\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "${CPM_CONFFILES}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cpmesh)
set(CPACK_PACKAGE_VERSION_MAJOR 0)
set(CPACK_PACKAGE_VERSION_MINOR 11)
set(CPACK_PACKAGE_VERSION_PATCH 0)
set(CPACK_PACKAGE_CONTACT "cpmesh maintainers <cpmesh@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "consumer-protection service mesh: services, cpmctl, systemd units")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps: libzmq.so.5 is the package's own (its own dependencies,
# libsodium and the C++ runtime, are found through it).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CPM_LIBZMQ_PREFIX}/lib)
# Debug information stays in the build tree: the package has stripped programs.
set(CPACK_STRIP_FILES ON)
# adduser: the maintainer scripts; lmdb-utils: mdb_copy for backups.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "lmdb-utils")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nginx")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/deploy/debian/postinst ${CMAKE_SOURCE_DIR}/deploy/debian/prerm
  ${CMAKE_SOURCE_DIR}/deploy/debian/postrm ${CMAKE_BINARY_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
