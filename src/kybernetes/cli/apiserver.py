"""``kyb apiserver``: one apiserver in this process, configured by flags.

Every ApiServerConfig field is a flag; the names follow kube-apiserver where it has one
(--tls-cert-file, --tls-private-key-file, --client-ca-file, --token-auth-file, --secure-port).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kybernetes.cli.component import LOG_LEVELS, log_format_option, run_loop, setup_logging
from kybernetes.cli.options import check_store_url
from kybernetes.cli.paths import default_data_dir

_file = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the default SQLite store lives [default: as `kyb up`].")
@click.option("--bind-address", default="0.0.0.0", show_default=True)
@click.option("--port", "--secure-port", "port", type=click.IntRange(0, 65535), default=6443,
              show_default=True)
@click.option("--store", "--storage-url", "store_url", default="", metavar="URL", callback=check_store_url,
              help="sqlite:///PATH, sqlite://:memory: or etcd://HOST:PORT[,...] "
                   "[default: sqlite:///DATA_DIR/state.db].")
@click.option("--tls-cert-file", type=_file, default=None, help="Serving certificate (PEM).")
@click.option("--tls-private-key-file", "tls_key_file", type=_file, default=None,
              help="Serving certificate's key (PEM).")
@click.option("--client-ca-file", type=_file, default=None,
              help="CA that signs client certificates (CN = user, O = groups).")
@click.option("--token-auth-file", type=_file, default=None,
              help='Static bearer tokens, CSV: token,user,uid,"group1,group2".')
@click.option("--service-account-signing-key-file", "sa_key_file", type=_file, default=None,
              help="Key that signs service-account tokens [default: DATA_DIR/pki/sa.key].")
@click.option("--service-account-issuer", "sa_issuer", default="",
              help="The iss claim of service-account tokens "
                   "[default: https://kubernetes.default.svc.cluster.local].")
@click.option("--api-audiences", default="", metavar="AUD[,AUD...]",
              help="Audiences the apiserver accepts in tokens [default: the issuer].")
@click.option("--inline-namespace-cleanup/--no-inline-namespace-cleanup", default=True, show_default=True,
              help="Empty a deleted namespace inside the apiserver; turn off when the "
                   "controller-manager's namespace controller runs.")
@click.option("--service-cluster-ip-range", "service_cidr", default="10.43.0.0/16", show_default=True,
              metavar="CIDR[,CIDR]", help="Where Service cluster IPs come from (IPv4,IPv6 for dual stack).")
@click.option("--service-node-port-range", "node_port_range", default="30000-32767", show_default=True,
              metavar="LOW-HIGH", help="Where NodePort and LoadBalancer Services' node ports come from.")
@click.option("--advertise-address", default="", metavar="IP",
              help="The address the `kubernetes` Service's endpoints name [default: the bind address, "
                   "or the host's first non-loopback address].")
@click.option("--anonymous-admin", is_flag=True,
              help="Treat every request as system:masters. For tests over plain HTTP only.")
@click.option("--log-level", type=LOG_LEVELS, default="info", show_default=True)
@log_format_option
def apiserver(data_dir, bind_address, port, store_url, tls_cert_file, tls_key_file, client_ca_file,
              token_auth_file, sa_key_file, sa_issuer, api_audiences, inline_namespace_cleanup, service_cidr,
              node_port_range, advertise_address, anonymous_admin, log_level) -> None:
    """Run the Kubernetes API server until SIGTERM or Ctrl-C."""
    if (tls_cert_file is None) != (tls_key_file is None):
        raise click.UsageError("--tls-cert-file and --tls-private-key-file go together")
    _check_service_flags(service_cidr, node_port_range, advertise_address)
    setup_logging(log_level)
    from kybernetes.api.errors import ApiError
    from kybernetes.apiserver.authn import TokenFileError
    from kybernetes.apiserver.server import ApiServerConfig, run_apiserver

    data_dir = (data_dir or default_data_dir()).expanduser().absolute()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = ApiServerConfig(
        data_dir=data_dir, bind_address=bind_address, port=port, store_url=store_url,
        tls_cert_file=tls_cert_file, tls_key_file=tls_key_file, client_ca_file=client_ca_file,
        token_auth_file=token_auth_file, anonymous_admin=anonymous_admin,
        service_account_key_file=sa_key_file, service_account_issuer=sa_issuer,
        api_audiences=tuple(a.strip() for a in api_audiences.split(",") if a.strip()),
        inline_namespace_cleanup=inline_namespace_cleanup,
        service_cluster_ip_range=service_cidr, service_node_port_range=node_port_range,
        advertise_address=advertise_address,
    )
    try:
        run_loop(run_apiserver(config))
    except KeyboardInterrupt:
        pass
    except (TokenFileError, ApiError, OSError, ValueError) as e:
        # A port in use, an unreadable file, a bad store URL: one line, no traceback.
        click.echo(f"kyb apiserver: {e}", err=True)
        sys.exit(1)
    except Exception as e:
        if not type(e).__module__.startswith("kybernetes."):
            raise  # a bug: keep the traceback
        click.echo(f"kyb apiserver: {e}", err=True)  # one of our typed errors (StoreError, ...)
        sys.exit(1)


def _check_service_flags(service_cidr: str, node_port_range: str, advertise_address: str) -> None:
    import ipaddress

    from kybernetes.apiserver.service_alloc_ranges import parse_node_port_range, parse_service_cidrs

    try:
        parse_service_cidrs(service_cidr)
        parse_node_port_range(node_port_range)
        if advertise_address:
            ipaddress.ip_address(advertise_address)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
