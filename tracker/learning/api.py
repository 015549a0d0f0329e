from flask import jsonify

from models import TrainingClass
from tracker.api import bp, json_body
from tracker.errors import ApiError
from tracker.extensions import db
from tracker.learning import services
from tracker.security import api_auth, can_manage_class, load_current_user


@bp.get("/me/classes")
@api_auth("trainee")
def my_classes():
    return jsonify({"classes": services.trainee_classes(db.session, load_current_user())})


@bp.post("/classes/<int:class_id>/roster")
@api_auth("staff", "admin")
def roster_add(class_id):
    s, viewer = db.session, load_current_user()
    cls = s.get(TrainingClass, class_id)
    if cls is None:
        raise ApiError(404, "not_found", "班期不存在")
    if not can_manage_class(viewer, cls):
        raise ApiError(403, "forbidden", "只能管理本机构的班期")
    data = json_body("id_number")
    enrollment = services.add_to_roster(s, cls, data["id_number"], viewer)
    s.commit()
    return jsonify({"enrollment_id": enrollment.id, "class_id": cls.id, "trainee_id": enrollment.trainee_id}), 201
