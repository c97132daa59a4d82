"""One credential for everything mlfn itself sends to Azure (traffic, registry token, invoke): the
one pulumi-azure-native builds from the same ARM_* variables, in the provider's own order
(pulumi/pulumi-azure-native provider/pkg/provider/auth_azidentity.go, newSingleMethodAuthCredential:
default credential, client certificate, client secret, OIDC, managed identity, then the az CLI;
the variables: readAuthConfig in the same file and
pulumi.com/registry/packages/azure-native/installation-configuration). DefaultAzureCredential alone
reads AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, so a CI job configured the azure-native
way would deploy its resources and then fail to set traffic or push the image."""

import azure.identity as identity
import pytest
from mlfn_azure import acr_token, credential, traffic

ARM = [v for v in ("ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE_PATH",
                   "ARM_CLIENT_CERTIFICATE_PASSWORD", "ARM_USE_OIDC", "ARM_OIDC_TOKEN", "ARM_OIDC_TOKEN_FILE_PATH",
                   "ARM_USE_MSI", "ARM_USE_DEFAULT_AZURE_CREDENTIAL", "ACTIONS_ID_TOKEN_REQUEST_URL",
                   "ACTIONS_ID_TOKEN_REQUEST_TOKEN")]


@pytest.fixture
def built(monkeypatch):
    """Which azure-identity credential is built, with what arguments."""
    for var in ARM:
        monkeypatch.delenv(var, raising=False)
    seen: list = []

    def spy(name):
        def make(*args, **kwargs):
            seen.append((name, args, kwargs))
            return name
        return make

    for name in ("ClientSecretCredential", "CertificateCredential", "ClientAssertionCredential",
                 "ManagedIdentityCredential", "DefaultAzureCredential", "AzureCliCredential"):
        monkeypatch.setattr(identity, name, spy(name))
    return seen


def test_no_method_variables_is_the_az_cli_login_as_for_the_provider(built, monkeypatch):
    """The provider falls back to the az CLI's login (auth_azidentity.go), not to DefaultAzureCredential,
    which would take a VM's managed identity first: mlfn must act as the principal that deployed."""
    assert credential.credential() == "AzureCliCredential" and built[-1][2] == {}
    monkeypatch.setenv("ARM_TENANT_ID", "t")
    assert credential.credential() == "AzureCliCredential" and built[-1][2] == {"tenant_id": "t"}
    monkeypatch.setenv("ARM_USE_MSI", "True")  # the provider reads switches as exactly "true"
    assert credential.credential() == "AzureCliCredential"
    monkeypatch.setenv("ARM_USE_DEFAULT_AZURE_CREDENTIAL", "true")
    assert credential.credential() == "DefaultAzureCredential"


def test_service_principal_with_a_secret(built, monkeypatch):
    monkeypatch.setenv("ARM_CLIENT_ID", "c")
    monkeypatch.setenv("ARM_TENANT_ID", "t")
    monkeypatch.setenv("ARM_CLIENT_SECRET", "s")
    assert credential.credential() == "ClientSecretCredential"
    assert built == [("ClientSecretCredential", ("t", "c", "s"), {})]


def test_service_principal_with_a_certificate_comes_before_a_secret(built, monkeypatch):
    for k, v in {"ARM_CLIENT_ID": "c", "ARM_TENANT_ID": "t", "ARM_CLIENT_SECRET": "s",
                 "ARM_CLIENT_CERTIFICATE_PATH": "/c.pfx", "ARM_CLIENT_CERTIFICATE_PASSWORD": "pw"}.items():
        monkeypatch.setenv(k, v)
    assert credential.credential() == "CertificateCredential"
    assert built == [("CertificateCredential", ("t", "c", "/c.pfx"), {"password": "pw"})]


def test_oidc_from_a_token_a_file_or_the_github_request(built, monkeypatch, tmp_path):
    monkeypatch.setenv("ARM_CLIENT_ID", "c")
    monkeypatch.setenv("ARM_TENANT_ID", "t")
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    monkeypatch.setenv("ARM_OIDC_TOKEN", "jwt-1")
    assert credential.credential() == "ClientAssertionCredential"
    _, args, _ = built[-1]
    assert args[:2] == ("t", "c") and args[2]() == "jwt-1"
    monkeypatch.delenv("ARM_OIDC_TOKEN")
    (tmp_path / "token").write_text("jwt-2\n")
    monkeypatch.setenv("ARM_OIDC_TOKEN_FILE_PATH", str(tmp_path / "token"))
    credential.credential()
    assert built[-1][1][2]() == "jwt-2"
    (tmp_path / "token").write_text("jwt-3")  # a rotated file is read again
    assert built[-1][1][2]() == "jwt-3"


def test_oidc_in_github_actions_asks_github_for_the_token(built, monkeypatch):
    """GitHub Actions with id-token: write: the token comes from ACTIONS_ID_TOKEN_REQUEST_URL for the
    audience api://AzureADTokenExchange (docs.github.com/actions/security-for-github-actions/
    security-hardening-your-deployments/configuring-openid-connect-in-azure)."""
    import httpx

    for k, v in {"ARM_CLIENT_ID": "c", "ARM_TENANT_ID": "t", "ARM_USE_OIDC": "true",
                 "ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.example/token?x=1",
                 "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "bearer"}.items():
        monkeypatch.setenv(k, v)
    seen = {}

    def get(url, params, headers, timeout):
        seen.update(url=url, params=params, auth=headers["authorization"])
        return httpx.Response(200, json={"value": "gh-jwt"})

    monkeypatch.setattr(httpx, "get", get)
    credential.credential()
    assert built[-1][1][2]() == "gh-jwt"
    assert seen == {"url": "https://gh.example/token?x=1", "params": {"audience": "api://AzureADTokenExchange"},
                    "auth": "Bearer bearer"}


def test_oidc_without_a_token_says_what_to_set(built, monkeypatch):
    monkeypatch.setenv("ARM_CLIENT_ID", "c")
    monkeypatch.setenv("ARM_TENANT_ID", "t")
    monkeypatch.setenv("ARM_USE_OIDC", "true")
    with pytest.raises(credential.CredentialError, match="ARM_OIDC_TOKEN"):
        credential.credential()


def test_secret_without_a_tenant_says_what_to_set(built, monkeypatch):
    monkeypatch.setenv("ARM_CLIENT_ID", "c")
    monkeypatch.setenv("ARM_CLIENT_SECRET", "s")
    with pytest.raises(credential.CredentialError, match="ARM_TENANT_ID"):
        credential.credential()


def test_managed_identity_with_or_without_a_client_id(built, monkeypatch):
    monkeypatch.setenv("ARM_USE_MSI", "true")
    assert credential.credential() == "ManagedIdentityCredential"
    monkeypatch.setenv("ARM_CLIENT_ID", "uami")
    credential.credential()
    assert [b[2] for b in built] == [{}, {"client_id": "uami"}]


def test_the_dynamic_providers_use_it(built, monkeypatch):
    class Cred:
        def get_token(self, scope):
            return type("T", (), {"token": f"token for {scope}"})()

    monkeypatch.setattr(credential, "credential", lambda: Cred())
    assert traffic._token() == "token for https://management.azure.com/.default"
    assert acr_token._aad_token() == "token for https://management.azure.com/.default"


def test_doctor_counts_what_the_provider_signs_in_with(tmp_path):
    """AZURE_* variables are DefaultAzureCredential's, not pulumi-azure-native's: they are not credentials
    for an up. ARM_USE_MSI alone (a managed identity without a client id) is."""
    from mlfn_azure import AzureAdapter

    def ok(env):
        (check,) = AzureAdapter().doctor({"HOME": str(tmp_path), **env})
        return check.ok

    assert not ok({"AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"})
    assert ok({"ARM_USE_MSI": "true"}) and ok({"ARM_CLIENT_ID": "x"})
    (tmp_path / ".azure").mkdir()
    (tmp_path / ".azure" / "azureProfile.json").write_text("{}")
    assert ok({})
