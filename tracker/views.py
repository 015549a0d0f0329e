"""The front door: each role lands on its own page."""
from flask import Blueprint, redirect, url_for

from tracker.security import load_current_user

bp = Blueprint("views", __name__)

HOMES = {"trainee": "learning.my_courses", "staff": "learning.staff_classes",
         "regulator": "learning.region_classes", "admin": "accounts.admin_users"}


@bp.get("/")
def home():
    user = load_current_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    return redirect(url_for(HOMES[user.role]))
