"""Rotation of PostgreSQL and Redshift passwords stored in AWS Secrets Manager.

``handler`` is the AWS Lambda entry point (``prizm.rotation.handler``); ``rotate`` and
``rotate_reference`` run the same four steps from Prizm, as ``prizm rotate`` does.
See ``prizm.rotation.steps`` for the steps and the two strategies.
"""

from prizm.rotation.lambda_function import handler
from prizm.rotation.local import RotationReport, rotate, rotate_reference
from prizm.rotation.passwords import PasswordPolicy
from prizm.rotation.steps import MasterSecret, Rotation, StepResult, Strategy, run_step

__all__ = [
    "MasterSecret",
    "PasswordPolicy",
    "Rotation",
    "RotationReport",
    "StepResult",
    "Strategy",
    "handler",
    "rotate",
    "rotate_reference",
    "run_step",
]
