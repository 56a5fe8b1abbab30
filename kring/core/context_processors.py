from kring.core.models import Association


def association(request):
    return {"association": Association.current()}
