# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deployment's protection, read from AWS rather than from the inventory: the protection tag on
its host and database, the host's termination protection and the database's deletion protection.
A run may lift it (teardown, or settings that call the stage unprotected) only when the operator
confirms the deployment by name."""

from __future__ import annotations

from ansible_collections.convex_selfhost.aws.plugins.module_utils.actions import dict_tags
from ansible_collections.convex_selfhost.aws.plugins.module_utils.tags import PROTECTED_KEY


def refusal(name, found, protected, confirm, variable, removing):
    """Why the run must stop, or None: the one rule for teardown and for every other run."""
    if confirm == name:
        return None
    if removing and (found or protected):
        why = "; ".join(found) or "its settings say stage_protected: true"
        return (
            f"Deployment {name} is protected ({why}); nothing was removed. If it really must go, run again with "
            f"-e {variable}={name}"
        )
    if not removing and found and not protected:
        return (
            f"Deployment {name} is protected in AWS ({'; '.join(found)}), but these settings say stage_protected: "
            "false, which would lift that protection. Nothing was changed. Check the inventory and -e values; if "
            f"lifting it is meant, run again with -e {variable}={name}"
        )
    return None


def replacing_refusal(name, found, protected, confirm, variable, what="data"):
    """Why a run that replaces the deployment's data (a restore, a copy into it) or its host
    (what="host") must stop, or None."""
    if confirm == name or not (found or protected):
        return None
    why = "; ".join(found) or "its settings say stage_protected: true"
    return (
        f"Deployment {name} is protected ({why}); its {what} was not touched. If it really must be replaced, run "
        f"again with -e {variable}={name}"
    )


def recorded(host, database, thorough):
    """What AWS records of the deployment's protection, one line each. thorough reads the host's
    termination protection even when its tags say nothing of protection (a teardown does; a
    no-op run saves the call). database None: the host alone (the stage model, before any write)."""
    found = []
    instance = host.find_instance()
    if instance is not None:
        tagged = PROTECTED_KEY in dict_tags(instance.get("Tags"))
        if tagged:
            found.append(f"the host {instance['InstanceId']} carries the tag {PROTECTED_KEY}")
        if (thorough or tagged or host.params["termination_protection"]) and host.termination_protected(instance):
            found.append(f"the host {instance['InstanceId']} has termination protection")
    db = database.instance() if database is not None else None
    if db is not None:
        if PROTECTED_KEY in dict_tags(db.get("TagList")):
            found.append(f"the database {database.instance_name} carries the tag {PROTECTED_KEY}")
        if db.get("DeletionProtection"):
            found.append(f"the database {database.instance_name} has deletion protection")
    return found


def guard(module, stage, host, database, removing):
    """Refuse, before any change, a run that would remove a protected deployment or lift its
    protection, unless module.params['confirm'] names the deployment. What was found is returned."""
    found = recorded(host, database, thorough=removing)
    params = module.params
    why = refusal(stage["name"], found, stage["protected"], params["confirm"], params["confirm_variable"], removing)
    if why:
        module.fail_json(msg=why, protection=found)
    return found


def lift(host, found):
    """Take the host's termination protection off before it is removed (the operator confirmed
    it). The database's deletion protection is the database's to turn off as it removes each
    instance (Database.remove_instance), kept ones too."""
    instance = host.find_instance()
    if instance is not None and any("termination protection" in line for line in found):
        host.set_termination_protection(instance["InstanceId"], False)
    # A replacement cut short may have left a second instance, protected as the host was.
    for spare in host.spares:
        if host.termination_protected(spare):
            host.set_termination_protection(spare["InstanceId"], False)
