/* unlinked.c: what Debian's static libcurl refers to and netimg-init
 * leaves out. netimg-init is linked statically (a small initramfs: the
 * dynamic libcurl pulls in 19 MB of libraries, gnutls, krb5, ldap, rtmp,
 * ssh2...), and libcurl.a names every library its Debian build enables.
 * The init fetches over http and https, HTTP/1.1 only (cache/fetch_xfer.c
 * restricts libcurl's protocols and HTTP version), with no cookies and no
 * Negotiate authentication: libcurl reaches none of these functions then,
 * but for the few its global init and cleanup call, and IDN conversion,
 * which fails cleanly. Any other is a bug: it says which and aborts (the
 * kernel then reboots), rather than doing anything unverified. */
#include <stdio.h>
#include <stdlib.h>

#include "netboot/init/init.h"

static void unlinked(const char *name)
{
	say("libcurl called %s, which netimg-init is not linked with", name);
	abort();
}

/* Called by curl_global_init() and curl_global_cleanup(). */
int libssh2_init(int flags);
int libssh2_init(int flags)
{
	return 0;
}

int libssh2_exit(void);
int libssh2_exit(void)
{
	return 0;
}

/* A host name that is not ASCII: no IDN conversion (libcurl fails the
 * transfer with a message). */
int idn2_lookup_ul(const char *src, char **lookupname, int flags);
int idn2_lookup_ul(const char *src, char **lookupname, int flags)
{
	*lookupname = NULL;
	return -1;
}

void idn2_free(void *p);
void idn2_free(void *p)
{
	free(p);
}

/* GSSAPI's name type (a constant libcurl reads for Negotiate). */
void *GSS_C_NT_HOSTBASED_SERVICE;

#define UNLINKED(name) void name(void); void name(void) { unlinked(#name); }
UNLINKED(RTMP_Alloc)
UNLINKED(RTMP_Close)
UNLINKED(RTMP_Connect1)
UNLINKED(RTMP_ConnectStream)
UNLINKED(RTMP_Free)
UNLINKED(RTMP_Init)
UNLINKED(RTMP_Read)
UNLINKED(RTMP_SetBufferMS)
UNLINKED(RTMP_SetupURL)
UNLINKED(RTMP_Write)

UNLINKED(ber_bvfree)
UNLINKED(ber_free)
UNLINKED(ber_memfree)
UNLINKED(ber_sockbuf_add_io)

UNLINKED(gss_delete_sec_context)
UNLINKED(gss_display_name)
UNLINKED(gss_display_status)
UNLINKED(gss_import_name)
UNLINKED(gss_init_sec_context)
UNLINKED(gss_inquire_context)
UNLINKED(gss_release_buffer)
UNLINKED(gss_release_name)
UNLINKED(gss_unwrap)
UNLINKED(gss_wrap)

UNLINKED(idn2_check_version)

UNLINKED(ldap_abandon_ext)
UNLINKED(ldap_err2string)
UNLINKED(ldap_free_urldesc)
UNLINKED(ldap_get_attribute_ber)
UNLINKED(ldap_get_dn_ber)
UNLINKED(ldap_get_option)
UNLINKED(ldap_init_fd)
UNLINKED(ldap_memfree)
UNLINKED(ldap_msgfree)
UNLINKED(ldap_msgtype)
UNLINKED(ldap_parse_result)
UNLINKED(ldap_parse_sasl_bind_result)
UNLINKED(ldap_pvt_url_scheme2proto)
UNLINKED(ldap_result)
UNLINKED(ldap_sasl_bind)
UNLINKED(ldap_search_ext)
UNLINKED(ldap_set_option)
UNLINKED(ldap_start_tls)
UNLINKED(ldap_unbind_ext)
UNLINKED(ldap_url_parse)

UNLINKED(libssh2_agent_connect)
UNLINKED(libssh2_agent_disconnect)
UNLINKED(libssh2_agent_free)
UNLINKED(libssh2_agent_get_identity)
UNLINKED(libssh2_agent_init)
UNLINKED(libssh2_agent_list_identities)
UNLINKED(libssh2_agent_userauth)
UNLINKED(libssh2_channel_free)
UNLINKED(libssh2_channel_read_ex)
UNLINKED(libssh2_channel_send_eof)
UNLINKED(libssh2_channel_wait_closed)
UNLINKED(libssh2_channel_wait_eof)
UNLINKED(libssh2_channel_write_ex)
UNLINKED(libssh2_hostkey_hash)
UNLINKED(libssh2_knownhost_add)
UNLINKED(libssh2_knownhost_checkp)
UNLINKED(libssh2_knownhost_del)
UNLINKED(libssh2_knownhost_free)
UNLINKED(libssh2_knownhost_get)
UNLINKED(libssh2_knownhost_init)
UNLINKED(libssh2_knownhost_readfile)
UNLINKED(libssh2_knownhost_writefile)
UNLINKED(libssh2_scp_recv2)
UNLINKED(libssh2_scp_send64)
UNLINKED(libssh2_session_abstract)
UNLINKED(libssh2_session_block_directions)
UNLINKED(libssh2_session_callback_set)
UNLINKED(libssh2_session_disconnect_ex)
UNLINKED(libssh2_session_flag)
UNLINKED(libssh2_session_free)
UNLINKED(libssh2_session_handshake)
UNLINKED(libssh2_session_hostkey)
UNLINKED(libssh2_session_init_ex)
UNLINKED(libssh2_session_last_errno)
UNLINKED(libssh2_session_last_error)
UNLINKED(libssh2_session_method_pref)
UNLINKED(libssh2_session_set_blocking)
UNLINKED(libssh2_sftp_close_handle)
UNLINKED(libssh2_sftp_init)
UNLINKED(libssh2_sftp_last_error)
UNLINKED(libssh2_sftp_mkdir_ex)
UNLINKED(libssh2_sftp_open_ex)
UNLINKED(libssh2_sftp_read)
UNLINKED(libssh2_sftp_readdir_ex)
UNLINKED(libssh2_sftp_rename_ex)
UNLINKED(libssh2_sftp_rmdir_ex)
UNLINKED(libssh2_sftp_seek64)
UNLINKED(libssh2_sftp_shutdown)
UNLINKED(libssh2_sftp_stat_ex)
UNLINKED(libssh2_sftp_statvfs)
UNLINKED(libssh2_sftp_symlink_ex)
UNLINKED(libssh2_sftp_unlink_ex)
UNLINKED(libssh2_sftp_write)
UNLINKED(libssh2_userauth_authenticated)
UNLINKED(libssh2_userauth_keyboard_interactive_ex)
UNLINKED(libssh2_userauth_list)
UNLINKED(libssh2_userauth_password_ex)
UNLINKED(libssh2_userauth_publickey_fromfile_ex)
UNLINKED(libssh2_version)

UNLINKED(nghttp2_http2_strerror)
UNLINKED(nghttp2_is_fatal)
UNLINKED(nghttp2_option_del)
UNLINKED(nghttp2_option_new)
UNLINKED(nghttp2_option_set_no_rfc9113_leading_and_trailing_ws_validation)
UNLINKED(nghttp2_pack_settings_payload)
UNLINKED(nghttp2_priority_spec_init)
UNLINKED(nghttp2_session_callbacks_del)
UNLINKED(nghttp2_session_callbacks_new)
UNLINKED(nghttp2_session_callbacks_set_error_callback)
UNLINKED(nghttp2_session_callbacks_set_on_begin_headers_callback)
UNLINKED(nghttp2_session_callbacks_set_on_data_chunk_recv_callback)
UNLINKED(nghttp2_session_callbacks_set_on_frame_recv_callback)
UNLINKED(nghttp2_session_callbacks_set_on_header_callback)
UNLINKED(nghttp2_session_callbacks_set_on_stream_close_callback)
UNLINKED(nghttp2_session_callbacks_set_send_callback)
UNLINKED(nghttp2_session_check_request_allowed)
UNLINKED(nghttp2_session_client_new2)
UNLINKED(nghttp2_session_del)
UNLINKED(nghttp2_session_get_remote_settings)
UNLINKED(nghttp2_session_get_remote_window_size)
UNLINKED(nghttp2_session_get_stream_remote_window_size)
UNLINKED(nghttp2_session_get_stream_user_data)
UNLINKED(nghttp2_session_mem_recv)
UNLINKED(nghttp2_session_resume_data)
UNLINKED(nghttp2_session_send)
UNLINKED(nghttp2_session_set_local_window_size)
UNLINKED(nghttp2_session_set_stream_user_data)
UNLINKED(nghttp2_session_upgrade2)
UNLINKED(nghttp2_session_want_read)
UNLINKED(nghttp2_session_want_write)
UNLINKED(nghttp2_strerror)
UNLINKED(nghttp2_submit_ping)
UNLINKED(nghttp2_submit_priority)
UNLINKED(nghttp2_submit_request)
UNLINKED(nghttp2_submit_rst_stream)
UNLINKED(nghttp2_submit_settings)
UNLINKED(nghttp2_version)

UNLINKED(psl_builtin)
UNLINKED(psl_free)
UNLINKED(psl_is_cookie_domain_acceptable)
UNLINKED(psl_latest)
