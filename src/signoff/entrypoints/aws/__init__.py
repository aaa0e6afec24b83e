"""AWS-compatible doors: the SSM Parameter Store read API and a SageMaker Model Registry subset,
over the AWS JSON 1.1 protocol with SigV4, so boto3 pipelines switch by setting
`AWS_ENDPOINT_URL_SSM=<signoff>/aws/ssm` and `AWS_ENDPOINT_URL_SAGEMAKER=<signoff>/aws/sagemaker`.
"""

from __future__ import annotations

from typing import Any

from signoff.bootstrap import Context

PATHS = {"/aws/ssm": "ssm", "/aws/sagemaker": "sagemaker", "/aws": None}


def mount_aws(app: Any, ctx: Context) -> None:
    """Add the `/aws/…` endpoints to the API app (unless `[aws] enabled = false`)."""
    if not ctx.settings.aws.enabled:
        return
    from signoff.adapters.aws_secrets import SecretBox
    from signoff.entrypoints.aws import sagemaker, ssm
    from signoff.entrypoints.aws.protocol import Door
    from signoff.adapters.db.credentials import AwsKeyVerifier

    keys = AwsKeyVerifier(ctx.engine, ctx.clock, SecretBox(ctx.settings.server.secret_key.get_secret_value()),
                          ttl=ctx.settings.aws.key_cache_seconds)
    app.state.aws_keys = keys
    services = {"ssm": ssm.SERVICE, "sagemaker": sagemaker.SERVICE}
    for path, name in PATHS.items():
        door = Door(ctx, keys, [services[name]] if name else list(services.values()))
        # botocore joins the endpoint's path and the operation's `/`: with and without the slash.
        for variant in (path, path + "/"):
            app.add_route(variant, door.handle, methods=["POST"], include_in_schema=False)
